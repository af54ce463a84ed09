"""Submit now, wait later, with a presigned output: the submitting task asks Runware to PUT
the video into the bucket, and the sensor finds that delivery -- no video byte through the
worker, one job (issue 19, point 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import write_dag
from .conftest import S3Server
from .test_presigned_media import AUDIO, VIDEO, WorkerBytes, worker_bytes  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_the_sensor_finds_the_video_runware_put_for_the_submitting_task(
    s3: S3Server,
    emulator: EmulatorServer,
    worker_bytes: WorkerBytes,  # noqa: F811
    own_dags: Path,
    monkeypatch: pytest.MonkeyPatch,
    deferrable: bool,
) -> None:
    bucket = s3.bucket(f"submit-wait-{int(deferrable)}")
    s3.put(bucket, "in/clip.mp4", VIDEO)
    s3.put(bucket, "in/voice.wav", AUDIO)
    # The delivery reaches the sensor through XCom: a run-time path, held to the allowed roots.
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", f"s3://{bucket}/out/")
    # Runware reports success first and PUTs a moment later: the sensor waits for the object.
    emulator.admin.set_faults([{"kind": "deliver_late", "delay": 1.0}])
    dag = write_dag(
        own_dags,
        f"submit_wait_delivery_{int(deferrable)}",
        f"""
        from airflow_provider_sync.sensors.sync import SyncRenderSensor

        submit = SyncLipsyncOperator(
            task_id="submit",
            video="s3://{bucket}/in/clip.mp4",
            audio="s3://{bucket}/in/voice.wav",
            output_path="s3://{bucket}/out/",
            wait_for_completion=False,
        )
        SyncRenderSensor(task_id="wait", task_uuid=submit.output, poke_interval=0.2)
        """,
    )
    result = run_dag(dag, deferrable=deferrable)
    assert result.state == "success", result.tasks
    job, out = result.xcom["submit"], result.xcom["wait"]
    target = f"s3://{bucket}/out/{job['task_uuid']}.mp4"
    assert job["delivered_to"] == target
    assert out["output_path"] == target
    assert out["output_bytes"] == len(s3.get(bucket, f"out/{job['task_uuid']}.mp4")) > 0
    assert s3.keys(bucket, "out/") == [f"out/{job['task_uuid']}.mp4"]
    assert emulator.admin.job(job["task_uuid"])["delivery"] == "delivered"
    assert emulator.admin.stats()["deliveries"] == 1
    assert emulator.admin.submissions() == [job["task_uuid"]]
    # Runware fetched the inputs and PUT the output: the worker moved no video byte.
    assert worker_bytes.total == 0, worker_bytes
