"""A presigned output ends in the bucket once, whichever comes first: Runware's PUT to the
``uploadEndpoint`` or its report of success (issue 17, point 1).

Run with ``dag.test()`` -- how users test DAGs, and what the testing kit's ``run_dag`` does --
which resumes a deferred task with the trigger's event alone (``defer()``'s kwargs are
dropped), so everything the resume needs must travel in the event. The output is an object
*name* (``s3://aws_default@bucket/out/clip.mp4``), as the scheduled example writes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync import output_delivery
from airflow_provider_sync.testing.dags import DagResult, run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import task_log, write_dag
from .conftest import S3Server
from .test_presigned_media import AUDIO, VIDEO, WorkerBytes, worker_bytes  # noqa: F401

pytestmark = pytest.mark.integration

#: How late the PUT lands after the job reports success (the issue's case).
LATE = 1.5


def _inputs(s3: S3Server, bucket: str) -> tuple[str, str]:
    s3.put(bucket, "in/clip.mp4", VIDEO)
    s3.put(bucket, "in/voice.wav", AUDIO)
    return f"s3://{bucket}/in/clip.mp4", f"s3://{bucket}/in/voice.wav"


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {timeout} s")
        time.sleep(0.05)


def _run(s3: S3Server, folder: Path, bucket: str, deferrable: bool, **kwargs: Any) -> DagResult:
    video, audio = _inputs(s3, bucket)
    params = {
        "video": video,
        "audio": audio,
        "output_path": f"s3://aws_default@{bucket}/out/clip.mp4",
        "poll_interval": 0.2,
        **kwargs,
    }
    dag = write_dag(
        folder,
        f"delivery_{bucket.replace('-', '_')}",
        f'SyncLipsyncOperator(task_id="lipsync", **{params!r})',
    )
    return run_dag(dag, deferrable=deferrable)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
@pytest.mark.parametrize("order", ["put-then-success", "success-then-put"])
def test_both_delivery_orders_end_with_one_job_and_the_object_in_the_bucket(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,  # noqa: F811
    airflow_home: Path,
    own_dags: Path,
    capsys: pytest.CaptureFixture[str],
    figures: list[str],
    order: str,
    deferrable: bool,
) -> None:
    if order == "success-then-put":
        # Runware reports success, then PUTs the video LATE seconds afterwards.
        emulator.admin.set_faults([{"kind": "deliver_late", "delay": LATE}])
    bucket = s3.bucket(f"order-{order[:3]}-{int(deferrable)}")
    result = _run(s3, own_dags, bucket, deferrable)
    log = "".join(capsys.readouterr()) + task_log(airflow_home, result.dag_id)
    assert result.state == "success", (result.tasks, log[-3000:])
    out = result.xcom["lipsync"]
    assert len(emulator.admin.submissions()) == 1
    assert s3.keys(bucket, "out/") == ["out/clip.mp4"]
    delivered = s3.get(bucket, "out/clip.mp4")
    assert out["output_path"] == f"s3://aws_default@{bucket}/out/clip.mp4"
    assert out["output_bytes"] == len(delivered) > 0
    assert emulator.admin.stats()["deliveries"] == 1
    job = emulator.admin.job(out["task_uuid"])
    assert job["delivery"] == "delivered"
    if order == "success-then-put":  # the order really was: success reported, then the PUT
        assert job["success_reported_at"] < job["delivered_at"]
    else:
        assert job["delivered_at"] <= job["success_reported_at"]
    assert "already exists" not in log
    # Runware moved the video; the worker read no input and downloaded nothing.
    assert worker_bytes.total == 0, worker_bytes
    figures.append(
        f"delivery order {order} ({'deferred' if deferrable else 'worker'}, dag.test): 1 job, "
        f"object {len(delivered)} bytes, worker moved {worker_bytes.total} bytes"
    )


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_delivery_that_does_not_come_in_time_is_downloaded_and_a_later_put_does_not_conflict(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,  # noqa: F811
    airflow_home: Path,
    own_dags: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    # The wait is bounded (here shortened): the delivery does not come, so the worker
    # downloads the video and writes the object itself.
    monkeypatch.setattr(output_delivery, "DELIVERY_WAIT", 0.3)
    # The PUT waits until the test releases it (far longer than the wait, at any speed).
    emulator.admin.set_faults([{"kind": "deliver_late", "delay": 3600}])
    bucket = s3.bucket(f"fallback-{int(deferrable)}")
    result = _run(s3, own_dags, bucket, deferrable)
    log = "".join(capsys.readouterr()) + task_log(airflow_home, result.dag_id)
    assert result.state == "success", (result.tasks, log[-3000:])
    out = result.xcom["lipsync"]
    assert "did not arrive" in log
    assert "already exists" not in log
    written = s3.get(bucket, "out/clip.mp4")
    assert worker_bytes.downloaded == out["output_bytes"] == len(written) > 0
    assert emulator.admin.stats().get("deliveries", 0) == 0
    # Then Runware's PUT lands: the same job's video over the same object, no error anywhere.
    emulator.admin.deliver(out["task_uuid"])
    _wait_for(lambda: emulator.admin.stats().get("deliveries", 0) == 1, "the late PUT")
    # (In metadata mode the emulator's file and its videoURL describe the job in the same
    # JSON, formatted differently.)
    assert json.loads(s3.get(bucket, "out/clip.mp4")) == json.loads(written)
    assert len(emulator.admin.submissions()) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_an_undelivered_render_with_a_video_url_is_written_to_its_object_by_the_worker(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,  # noqa: F811
    airflow_home: Path,
    own_dags: Path,
    capsys: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    # Runware rendered (and billed) but its PUT failed; its answer still has the videoURL.
    emulator.admin.set_faults([{"kind": "upload_failed", "video_url": True}])
    bucket = s3.bucket(f"undelivered-{int(deferrable)}")
    result = _run(s3, own_dags, bucket, deferrable)
    log = "".join(capsys.readouterr()) + task_log(airflow_home, result.dag_id)
    assert result.state == "success", (result.tasks, log[-3000:])
    out = result.xcom["lipsync"]
    [job] = emulator.admin.jobs()
    assert (job["status"], job["code"]) == ("error", "uploadFailed")
    assert out["task_uuid"] == job["taskUUID"]
    assert out["output_path"] == f"s3://aws_default@{bucket}/out/clip.mp4"
    assert worker_bytes.downloaded == out["output_bytes"] == len(s3.get(bucket, "out/clip.mp4")) > 0
    assert "taking the video from its videoURL" in log
    assert "already exists" not in log
    assert len(emulator.admin.submissions()) == 1


def test_an_undelivered_render_without_a_video_url_is_rendered_again_only_when_asked(
    s3: S3Server, emulator: EmulatorServer
) -> None:
    from airflow_provider_sync.exceptions import RunwareUploadFailedError

    from .test_presigned_media import _context, _operator, run

    emulator.admin.set_faults([{"kind": "upload_failed", "video_url": False, "count": 1}])
    bucket = s3.bucket("undelivered-novideo")
    video, audio = _inputs(s3, bucket)
    output = f"s3://{bucket}/out/clip.mp4"
    with pytest.raises(RunwareUploadFailedError, match=r"output_transfer=\"download\""):
        run(_operator(video=video, audio=audio, output_path=output, deferrable=True), _context("nv"))
    with pytest.raises(RunwareUploadFailedError):  # a plain retry: re-attaches, pays nothing
        run(_operator(video=video, audio=audio, output_path=output, deferrable=True), _context("nv"))
    assert len(emulator.admin.submissions()) == 1
    # The way out the message names: delivery through the worker renders it again, once.
    out = run(
        _operator(video=video, audio=audio, output_path=output, deferrable=True, output_transfer="download"),
        _context("nv"),
    )
    assert len(emulator.admin.submissions()) == 2
    assert out["output_bytes"] == len(s3.get(bucket, "out/clip.mp4")) > 0
