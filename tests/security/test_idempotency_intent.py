"""Idempotency that matches intent (issue 10, point 3).

A retry pays for no second job just because a presigned URL was signed again or a file was
rewritten with the same bytes; new content under the same name and mtime is a new job; and
the user can name the job (``idempotency_key``) or ask for a fresh one (``force_new_job``).
The jobs are counted by the emulator.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.idempotency import (
    JobKey,
    idempotency_fingerprint,
    request_fingerprint,
    stable_url,
)
from airflow_provider_sync.media import inspect_local
from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..operators.conftest import FakeTI

pytestmark = pytest.mark.integration

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


@dataclass
class TI(FakeTI):
    """A task instance with a try number (Airflow's ``ti.try_number``)."""

    try_number: int = 1


def presigned_aws(signature: str, date: str) -> str:
    return (
        "https://renders.s3.eu-west-1.amazonaws.com/voices/fr.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIA%2F{date}%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date={date}T101010Z"
        f"&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok{signature}"
        f"&X-Amz-Signature={signature}&versionId=v7"
    )


def submit(audio: Any, ti: FakeTI | None = None, **kwargs: Any) -> None:
    """One try of the task up to its deferral, or its result when it re-attached to a finished job."""
    op = SyncLipsyncOperator(task_id="lipsync", video=VIDEO, audio=audio, deferrable=True, **kwargs)
    with contextlib.suppress(TaskDeferred):
        op.execute({"ti": ti or TI()})  # type: ignore[arg-type]


def jobs(emulator: EmulatorServer) -> int:
    return len(emulator.admin.submissions())


# ---------------------------------------------------------------- against the emulator


def test_a_retry_with_a_freshly_signed_audio_url_reattaches(emu: EmulatorServer) -> None:
    submit(presigned_aws("aaaa1111", "20261126"))
    submit(presigned_aws("bbbb2222", "20261127"))  # the retry renders a new signature
    assert jobs(emu) == 1
    submit(presigned_aws("cccc3333", "20261127").replace("versionId=v7", "versionId=v8"))
    assert jobs(emu) == 2  # another object version is another request


def test_a_file_rewritten_with_identical_bytes_reattaches(emu: EmulatorServer, tmp_path: Path) -> None:
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    submit(str(voice))
    content = voice.read_bytes()
    voice.unlink()
    voice.write_bytes(content)  # a re-export: new inode, new mtime, same bytes
    os.utime(voice, ns=(10**18, 10**18))
    submit(str(voice))
    assert jobs(emu) == 1
    uploads = [t for t in emu.admin.requests_tasks() if t["taskType"] == "mediaStorage"]
    assert len(uploads) == 1  # the re-attaching try uploaded nothing


def test_new_content_with_the_same_size_and_mtime_is_a_new_job(emu: EmulatorServer, tmp_path: Path) -> None:
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + b"\x01" * 4000)
    stamp = voice.stat()
    submit(str(voice))
    voice.write_bytes(b"RIFF" + b"\x02" * 4000)  # cp -p / rsync -t: same size, same mtime
    os.utime(voice, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert voice.stat().st_size == stamp.st_size
    assert voice.stat().st_mtime_ns == stamp.st_mtime_ns
    submit(str(voice))
    assert jobs(emu) == 2


def test_force_new_job_renders_afresh_once_per_try(emu: EmulatorServer) -> None:
    audio = "https://cdn.test/take.wav"
    submit(audio, TI(try_number=1))
    submit(audio, TI(try_number=1), force_new_job=True)
    assert jobs(emu) == 2  # the existing job is skipped: a new render
    submit(audio, TI(try_number=1), force_new_job="True")  # as a template renders it
    assert jobs(emu) == 2  # the same try again (worker lost, execute re-run) re-attaches
    submit(audio, TI(try_number=2), force_new_job=True)
    assert jobs(emu) == 3  # a cleared task runs a new try: rendered afresh
    submit(audio, TI(try_number=3))
    assert jobs(emu) == 3  # without the flag, every try re-attaches to the first job


def test_force_new_job_still_reattaches_after_a_lost_answer(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "lost_response", "task_type": "videoInference", "count": 1}])
    submit("https://cdn.test/take.wav", TI(try_number=4), force_new_job=True)
    submitted = [t for t in emu.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert len(submitted) == 2  # sent, answer lost, sent again under the same UUID
    assert jobs(emu) == 1


def test_an_idempotency_key_names_the_job(emu: EmulatorServer) -> None:
    submit("https://cdn.test/a.wav", idempotency_key="ep1-fr-take-1")
    submit("https://cdn.test/a.wav", idempotency_key="ep1-fr-take-1", temperature=0.9)
    assert jobs(emu) == 1  # same key: the same job, whatever else changed
    submit("https://cdn.test/a.wav", idempotency_key="ep1-fr-take-2")
    assert jobs(emu) == 2
    submit("https://cdn.test/a.wav", idempotency_key="")  # an empty param, rendered
    assert jobs(emu) == 3  # an empty key means "no key": the request's fingerprint


# ---------------------------------------------------------------- the fingerprint itself


TASK: dict[str, Any] = {"taskType": "videoInference", "model": "sync:lipsync-2@1", "inputs": {"video": VIDEO}}


def fingerprint(audio_url: str) -> str:
    return request_fingerprint(
        {**TASK, "inputs": {"video": VIDEO, "audio": [{"id": "a", "source": audio_url}]}}
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (presigned_aws("s1", "20261126"), presigned_aws("s2", "20261201")),
        (
            "https://storage.googleapis.com/b/a.wav?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa"
            "&X-Goog-Date=20261126T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=01",
            "https://storage.googleapis.com/b/a.wav?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa"
            "&X-Goog-Date=20261127T000000Z&X-Goog-Expires=600&X-Goog-SignedHeaders=host&X-Goog-Signature=02",
        ),
        (
            "https://acct.blob.core.windows.net/c/a.wav?sp=r&st=2026-11-26T00:00Z&se=2026-11-26T01:00Z"
            "&spr=https&sv=2022-11-02&sr=b&skoid=x&sig=AAA%3D",
            "https://acct.blob.core.windows.net/c/a.wav?sv=2022-11-02&sp=r&st=2026-11-27T00:00Z"
            "&se=2026-11-27T01:00Z&spr=https&sr=b&skoid=y&sig=BBB%3D",
        ),
        (
            "https://d1.cloudfront.net/a.wav?Expires=1&Signature=x~y&Key-Pair-Id=K1",
            "https://d1.cloudfront.net/a.wav?Policy=eyJ&Signature=z~w&Key-Pair-Id=K2",
        ),
        (
            "https://b.s3.amazonaws.com/a.wav?AWSAccessKeyId=AKIA&Expires=1&Signature=abc",
            "https://b.s3.amazonaws.com/a.wav?AWSAccessKeyId=AKIB&Expires=2&Signature=def",
        ),
    ],
    ids=["aws-sigv4", "gcs-v4", "azure-sas", "cloudfront", "aws-sigv2"],
)
def test_presigning_parameters_do_not_count(first: str, second: str) -> None:
    assert first != second
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) != fingerprint(first.replace("a.wav", "b.wav").replace("fr.wav", "de.wav"))


def test_other_query_parameters_still_count() -> None:
    # Unsigned URLs keep every parameter: names as short as Azure's may mean anything elsewhere.
    assert fingerprint("https://cdn.test/a.wav?st=1&sp=2") != fingerprint("https://cdn.test/a.wav?st=3&sp=2")
    assert fingerprint("https://cdn.test/a.wav?v=1") != fingerprint("https://cdn.test/a.wav?v=2")
    assert stable_url(presigned_aws("s", "20261126")).endswith("/voices/fr.wav?versionId=v7")


def test_local_files_are_identified_by_content(tmp_path: Path) -> None:
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + b"\x01" * 100)
    first = inspect_local(str(voice), "audio", "audio").version
    assert first.startswith("104:sha256:")
    os.utime(voice, ns=(1, 1))
    assert inspect_local(str(voice), "audio", "audio").version == first
    voice.write_bytes(b"RIFF" + b"\x02" * 100)
    os.utime(voice, ns=(1, 1))
    assert inspect_local(str(voice), "audio", "audio").version != first


def test_object_stores_content_hash_is_used_when_reported() -> None:
    from airflow_provider_sync import media

    info = {"type": "file", "size": 10, "ETag": '"9e107d9d372bb6826bd81d3542a419d6"', "LastModified": "x"}
    size, version = media._size_and_identity(object(), info, 100)
    assert (size, version) == (10, "10:etag:9e107d9d372bb6826bd81d3542a419d6")


@pytest.mark.usefixtures("local_object_storage")
def test_an_object_store_without_a_content_hash_is_hashed_by_content(tmp_path: Path) -> None:
    # Azure's lowercase etag changes on every write, identical bytes or not: hash the content instead.
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"0123456789")
    found = inspect_local(f"local://{clip}", "audio", "audio")
    assert found.version.startswith("10:sha256:")


def test_an_upload_whose_file_changed_since_it_was_hashed_is_cut_off(tmp_path: Path) -> None:
    from airflow_provider_sync.media import upload_body

    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + b"\x01" * 5000)
    found = inspect_local(str(voice), "audio", "audio")
    voice.write_bytes(b"RIFF" + b"\x02" * 5000)
    body = upload_body("u-1", found)
    with pytest.raises(SyncValidationError, match="changed while it was being uploaded"):
        b"".join(body)  # the closing bytes of the JSON body are never produced


def test_the_job_key_takes_the_users_key_and_the_try_number() -> None:
    base = JobKey("d", "r", "t", -1, "fp")
    assert base.task_uuid() == JobKey("d", "r", "t", -1, "fp", attempt=None).task_uuid()
    assert base.task_uuid() != JobKey("d", "r", "t", -1, "fp", attempt=1).task_uuid()
    assert (
        JobKey("d", "r", "t", -1, "fp", attempt=1).task_uuid()
        != JobKey("d", "r", "t", -1, "fp", attempt=2).task_uuid()
    )
    assert idempotency_fingerprint("take-1") == idempotency_fingerprint(" take-1 ")
    assert idempotency_fingerprint("take-1") != idempotency_fingerprint("take-2")
    assert idempotency_fingerprint("") is None
    assert idempotency_fingerprint("None") is None
    for bad in ("x" * 257, "a\nb", ["k"], True):
        with pytest.raises(SyncValidationError, match="idempotency_key"):
            idempotency_fingerprint(bad)
    assert {"idempotency_key", "force_new_job"} <= set(SyncLipsyncOperator.template_fields)
