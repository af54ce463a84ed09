"""Object-storage media never passes through the worker: Runware (the emulator, on loopback)
fetches inputs from presigned GET URLs and PUTs the render to a presigned ``uploadEndpoint``.

Against a real S3-protocol server (moto) with the Amazon provider and ``ObjectStoragePath``;
the worker's own byte counts (reads of the media, upload bodies, downloads) prove it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_sync import media as media_module
from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.hooks import runware as hook_module
from airflow_provider_sync.idempotency import request_fingerprint, stable_url
from airflow_provider_sync.object_storage import presign
from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import fresh
from ..operators.conftest import outlet_events
from .conftest import S3Server

pytestmark = pytest.mark.integration

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 300_000
AUDIO = b"RIFF" + b"a" * 120_000


@dataclass
class WorkerBytes:
    """Video and audio bytes the worker itself moved."""

    read: int = 0  # read from the media files (to upload or hash them)
    uploaded: int = 0  # sent to Runware in upload bodies
    downloaded: int = 0  # fetched from videoURL and written to the target
    opened: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.read + self.uploaded + self.downloaded


class _CountingStream:
    def __init__(self, stream: Any, counter: WorkerBytes) -> None:
        self._stream, self._counter = stream, counter

    def read(self, size: int = -1) -> bytes:
        chunk = bytes(self._stream.read(size))
        self._counter.read += len(chunk)
        return chunk

    def __enter__(self) -> _CountingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


@pytest.fixture
def worker_bytes(monkeypatch: pytest.MonkeyPatch) -> WorkerBytes:
    """Counts every media byte the worker reads, uploads or downloads."""
    counter = WorkerBytes()
    original_open = media_module.LocalMedia.open
    original_body = hook_module.upload_body
    original_save = hook_module.save_stream

    def counting_open(self: Any) -> Any:
        counter.opened.append(self.source)
        return _CountingStream(original_open(self), counter)

    def counting_body(task_uuid: str, item: Any) -> Iterator[bytes]:
        for chunk in original_body(task_uuid, item):
            counter.uploaded += len(chunk)
            yield chunk

    def counting_save(chunks: Iterator[bytes], target: str) -> int:
        written = original_save(chunks, target)
        counter.downloaded += written
        return written

    monkeypatch.setattr(media_module.LocalMedia, "open", counting_open)
    monkeypatch.setattr(hook_module, "upload_body", counting_body)
    monkeypatch.setattr(hook_module, "save_stream", counting_save)
    return counter


@dataclass
class FakeTI:
    """What the operators read from ``context["ti"]``."""

    dag_id: str = "s3_dag"
    run_id: str = "manual__2026-11-26"
    task_id: str = "lipsync"
    map_index: int = -1
    try_number: int = 1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def _context(run_id: str) -> dict[str, Any]:
    return {"ti": FakeTI(run_id=run_id), "outlet_events": outlet_events()}


def _operator(**kwargs: Any) -> SyncLipsyncOperator:
    return SyncLipsyncOperator(**{"task_id": "lipsync", "poll_interval": 0.2, **kwargs})


def run(op: SyncLipsyncOperator, context: dict[str, Any]) -> dict[str, Any]:
    """Execute ``op`` as a worker would; a deferral runs its trigger in-line, then resumes."""
    try:
        return dict(op.execute(context))
    except TaskDeferred as deferred:
        trigger = deferred.trigger

        async def first_event() -> Any:
            async for event in trigger.run():
                return event
            raise AssertionError("the trigger ended without an event")

        event = asyncio.run(first_event())
        resumed = copy.deepcopy(op)  # a fresh instance resumes, as after a real deferral
        return dict(resumed.execute_complete(context, event.payload, **(deferred.kwargs or {})))


def _inputs(s3: S3Server, bucket: str) -> tuple[str, str]:
    s3.put(bucket, "in/clip.mp4", VIDEO)
    s3.put(bucket, "in/voice.wav", AUDIO)
    return f"s3://{bucket}/in/clip.mp4", f"s3://{bucket}/in/voice.wav"


@pytest.mark.parametrize("deferrable", [False, True])
def test_zero_video_bytes_through_the_worker(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,
    figures: list[str],
    capsys: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    bucket = s3.bucket(f"media-direct-{int(deferrable)}")
    video, audio = _inputs(s3, bucket)
    op = _operator(
        video=video,
        audio=audio,
        output_path=f"s3://{bucket}/renders/",
        output_asset="s3://renders-asset",
        deferrable=deferrable,
    )
    context = _context(f"direct-{deferrable}")
    out = run(op, context)
    task_uuid = out["task_uuid"]
    assert out["output_path"] == f"s3://{bucket}/renders/{task_uuid}.mp4"
    delivered = s3.get(bucket, f"renders/{task_uuid}.mp4")
    assert out["output_bytes"] == len(delivered) > 0
    # The Asset event records the object too.
    asset_extra = context["outlet_events"][op.output_asset].extra
    assert asset_extra["output_path"] == out["output_path"]

    stats = emulator.admin.stats()
    # Runware (the emulator) moved the bytes, straight from and to the bucket ...
    assert stats["fetched_bytes"] == len(VIDEO) + len(AUDIO)
    assert stats["delivered_bytes"] == len(delivered)
    # ... and the worker none: no read, no upload, no download.
    assert worker_bytes.total == 0, worker_bytes
    assert worker_bytes.opened == []
    sent = [t for t in emulator.admin.requests_tasks() if t.get("taskType") == "videoInference"]
    assert len(sent) == 1
    assert sent[0]["inputs"]["video"].startswith(s3.url + f"/{bucket}/in/clip.mp4?")
    # (the emulator's request log shortens long values, so only the URL's start is compared)
    assert sent[0]["uploadEndpoint"].startswith(
        f"{s3.url}/{bucket}/renders/{task_uuid}.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    )
    figures.append(
        f"s3 direct (deferrable={deferrable}): worker moved {worker_bytes.total} media bytes; "
        f"Runware fetched {stats['fetched_bytes']} and delivered {stats['delivered_bytes']}"
    )
    # The log says which path each input took, and shows no signature.
    text = "".join(capsys.readouterr())  # the task log (Airflow's logging writes to the console)
    assert "sent to Runware as a presigned URL" in text
    assert "PUTs the video straight to" in text
    assert "X-Amz-Signature" not in text
    assert "X-Amz-Credential" not in text


def test_upload_and_download_through_the_worker_when_asked(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,
    figures: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = s3.bucket("media-worker")
    video, audio = _inputs(s3, bucket)
    op = _operator(
        video=video,
        audio=audio,
        output_path=f"s3://{bucket}/renders/out.mp4",
        input_transfer="upload",
        output_transfer="download",
        deferrable=False,
    )
    out = run(op, _context("worker"))
    assert out["output_path"] == f"s3://{bucket}/renders/out.mp4"
    assert worker_bytes.read == len(VIDEO) + len(AUDIO)
    assert worker_bytes.downloaded == out["output_bytes"] == len(s3.get(bucket, "renders/out.mp4"))
    assert emulator.admin.stats().get("fetched_bytes", 0) == 0
    assert "uploaded through the worker (input_transfer=upload)" in "".join(capsys.readouterr())
    figures.append(
        f"s3 through the worker: read {worker_bytes.read}, uploaded {worker_bytes.uploaded} "
        f"(base64 JSON), downloaded {worker_bytes.downloaded} bytes"
    )


def test_presign_refused_where_the_store_cannot(tmp_path: Any, s3: S3Server) -> None:
    from airflow_provider_sync.media_plan import plan_media
    from airflow_provider_sync.operators.sync import SyncLipsyncOperator
    from airflow_provider_sync.paths import MediaRoots, TemplatedPaths

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(VIDEO)
    op = SyncLipsyncOperator(
        task_id="t", video=str(clip), audio="https://example.com/a.wav", input_transfer="presign"
    )
    with pytest.raises(SyncValidationError, match="input_transfer='presign'"):
        plan_media(
            op.build_request(),
            roots=MediaRoots(),
            origins=TemplatedPaths(video=False, audio=False, output_path=False),
            input_transfer="presign",
            output_transfer="auto",
            output_path=None,
            overwrite=False,
        )
    with pytest.raises(SyncValidationError, match="input_transfer"):
        SyncLipsyncOperator(task_id="u", video="v", audio="a", input_transfer="sometimes")


def test_presigned_urls_do_not_change_the_job_identity_but_the_etag_does(s3: S3Server) -> None:
    bucket = s3.bucket("media-identity")
    s3.put(bucket, "in/clip.mp4", VIDEO)
    url = f"s3://{bucket}/in/clip.mp4"
    first, second = presign(url, "GET", 600), presign(url, "GET", 900)
    assert first is not None
    assert second is not None
    assert first != second
    assert "X-Amz-Signature=" in first
    assert stable_url(first) == stable_url(second)
    task = {"model": "sync:lipsync-2@1", "inputs": {"video": first, "audio": [{"id": "a", "source": "x"}]}}
    again = {**task, "inputs": {**task["inputs"], "video": second}}
    assert request_fingerprint(task) == request_fingerprint(again)
    put1, put2 = (
        presign(f"s3://{bucket}/out/a.mp4", "PUT", 600),
        presign(f"s3://{bucket}/out/a.mp4", "PUT", 60),
    )
    assert request_fingerprint({**task, "uploadEndpoint": put1}) == request_fingerprint(
        {**task, "uploadEndpoint": put2}
    )
    # The object's ETag is its identity: new content under the same key, a new job.
    before = media_module.inspect_local(url, "video", "video")
    assert ":etag:" in before.version
    s3.put(bucket, "in/clip.mp4", VIDEO + b"more")
    media_module._path(url).fs.invalidate_cache()
    after = media_module.inspect_local(url, "video", "video")
    assert after.version != before.version
    assert request_fingerprint(task, [before.version]) != request_fingerprint(task, [after.version])


def test_the_path_policy_applies_to_the_bucket_target(s3: S3Server, emulator: EmulatorServer) -> None:
    bucket = s3.bucket("media-policy")
    video, audio = _inputs(s3, bucket)
    s3.put(bucket, "renders/taken.mp4", b"already here")
    fresh(emulator)
    roots = {"allowed_media_roots": [f"s3://{bucket}/renders/"]}
    for output_path, rendered, message in [
        (f"s3://{bucket}/renders/taken.mp4", None, "already exists"),
        ("{{ params.out }}", f"s3://{bucket}/renders/taken.mp4", "already exists"),
        ("{{ params.out }}", f"s3://{bucket}/elsewhere/x.mp4", "allowed media roots"),
        ("{{ params.out }}", f"s3://{bucket}/renders/x.mp4.py", "video file name"),
        ("{{ params.out }}", f"s3://other@{bucket}/renders/x.mp4", "selects a connection"),
    ]:
        op = _operator(video=video, audio=audio, output_path=output_path, deferrable=False, **roots)
        if rendered is not None:
            op.output_path = rendered  # what rendering the template gave
        with pytest.raises(SyncValidationError, match=message):
            op.execute(_context("policy"))
    assert emulator.admin.submissions() == []  # refused before anything was sent
    assert s3.get(bucket, "renders/taken.mp4") == b"already here"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/runware", True),
        ("http://127.0.0.1:8080/hook", True),
        ("http://localhost/hook", True),
        ("http://hooks.example.com/runware", False),
        ("ftp://example.com/x", False),
        ("https:///nohost", False),
    ],
)
def test_webhook_and_upload_endpoint_are_validated(url: str, ok: bool) -> None:
    from airflow_provider_sync.operators.sync import SyncLipsyncOperator

    for name in ("webhook_url", "upload_endpoint"):
        kwargs = {name: url}
        if ok:
            op = SyncLipsyncOperator(
                task_id="t", video="https://e.com/v.mp4", audio="https://e.com/a.wav", **kwargs
            )
            key = "webhookURL" if name == "webhook_url" else "uploadEndpoint"
            assert op.build_request()[key] == url
        else:
            with pytest.raises(SyncValidationError, match=name):
                SyncLipsyncOperator(
                    task_id="t", video="https://e.com/v.mp4", audio="https://e.com/a.wav", **kwargs
                )
