"""On a real deployment (scheduler, triggerer, LocalExecutor), a presigned output ends in the
bucket once whichever comes first, Runware's PUT or its report of success; and
``execution_timeout`` ends a deferred wait (issue 17, points 1 and 4).

A real triggerer keeps ``defer()``'s kwargs (``dag.test()`` does not: see
``tests/s3/test_delivery_orders.py``); here the point is the triggerer's own wait for the
delivery and Airflow's handling of a deferred task's time limits. S3 is moto's server on
loopback; Runware is the emulator, as a process, PUTting to presigned URLs.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.testing.emulator import EmulatorProcess

from .stack import AirflowStack

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(400)]

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

API_KEY = "deploy-delivery-key-51c0"
DAG_ID = "deployment_presigned_delivery"
BUCKET = "deploy-renders"
REGION = "us-east-1"
#: The stuck task's execution_timeout: its job never leaves "queued".
EXECUTION_TIMEOUT = 10

DAG_FILE = textwrap.dedent(
    f'''
    from datetime import datetime, timedelta

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG

    from airflow_provider_sync.operators.sync import SyncLipsyncOperator

    common = dict(video="c64351d5-4c59-42f7-95e1-eace013eddab", deferrable=True, poll_interval=1, retries=0)

    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
        SyncLipsyncOperator(
            task_id="put_first",
            audio="https://cdn.example.com/first.wav",
            output_path="s3://aws_default@{BUCKET}/out/first.mp4",
            **common,
        )
        SyncLipsyncOperator(
            task_id="success_first",
            audio="https://cdn.example.com/late.wav",
            output_path="s3://aws_default@{BUCKET}/out/late.mp4",
            **common,
        )
        SyncLipsyncOperator(
            task_id="stuck",
            audio="https://cdn.example.com/stuck.wav",
            execution_timeout=timedelta(seconds={EXECUTION_TIMEOUT}),
            **common,
        )
    '''
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3() -> Iterator[tuple[str, Any]]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield url, client
    finally:
        server.stop()


def _audio_name(job: dict[str, Any]) -> str:
    return str(job["request"]["inputs"]["audio"][0]["source"]).rsplit("/", 1)[-1]


def _task_logs(home: Path, task_id: str) -> str:
    folder = home / "logs" / f"dag_id={DAG_ID}"
    return "".join(
        p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file() and task_id in str(p)
    )


def test_both_delivery_orders_and_execution_timeout_on_a_real_triggerer(
    tmp_path: Path, s3: tuple[str, Any], figures: list[str]
) -> None:
    s3_url, client = s3
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "delivery.py").write_text(DAG_FILE)
    emulator_args = ["--api-key", API_KEY, "--render-seconds", "2", "--output", "metadata"]
    with EmulatorProcess(emulator_args) as emulator:
        emulator.admin.set_faults(
            [
                # Success is reported first; the PUT lands 1.5 s later.
                {"kind": "deliver_late", "delay": 1.5, "match": "/out/late.mp4"},
                # A job that never leaves "queued": only execution_timeout ends its wait.
                {
                    "kind": "waiting_statuses",
                    "job_status": "queued",
                    "polls": 1_000_000,
                    "match": "stuck.wav",
                },
            ]
        )
        aws = {
            "conn_type": "aws",
            "login": "t",
            "password": "t",
            "extra": {"endpoint_url": s3_url, "region_name": REGION},
        }
        runware = {"conn_type": "runware", "host": emulator.base_url, "password": API_KEY}
        env = {
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(runware),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AWS_ENDPOINT_URL": s3_url,
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "AWS_DEFAULT_REGION": REGION,
        }
        home = tmp_path / "airflow"
        with AirflowStack(home, dags, env) as stack:
            stack.wait_for_dag(DAG_ID)
            run_id = "delivery_test"
            started = time.monotonic()
            stack.cli("dags", "trigger", DAG_ID, "--run-id", run_id)
            state = None
            while time.monotonic() - started < 300:
                stack.check_alive()
                state = stack.run_state(DAG_ID, run_id)
                if state in ("success", "failed"):
                    break
                time.sleep(0.5)
            rows = stack.query(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
            )
            tasks = {str(t): str(s) for t, s in rows}
            jobs = {
                j["request"]["inputs"]["audio"][0]["source"].rsplit("/", 1)[-1]: j
                for j in emulator.admin.jobs()
            }
            stats = emulator.admin.stats()
            logs = {task: _task_logs(home, task) for task in tasks}
            diagnostics = stack.tail("scheduler") + stack.tail("triggerer")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    figures.append(
        f"[deployment] presigned delivery: tasks {tasks}; objects {keys}; emulator submissions "
        f"{stats.get('submissions')}, deliveries {stats.get('deliveries')}"
    )
    assert tasks == {"put_first": "success", "success_first": "success", "stuck": "failed"}, diagnostics
    assert state == "failed"  # the stuck task, and only it
    assert stats["submissions"] == 3  # one job per task: no retry, no second render
    assert keys == ["out/first.mp4", "out/late.mp4"]
    first, late = jobs["first.wav"], jobs["late.wav"]
    assert first["delivered_at"] <= first["success_reported_at"]  # PUT, then success
    assert late["success_reported_at"] < late["delivered_at"]  # success, then PUT
    for task in ("put_first", "success_first"):
        assert "already exists" not in logs[task]
        assert "the worker did not download it" in logs[task], logs[task][-3000:]
        assert "Saved the video" not in logs[task]  # 0 video bytes through the worker
    stuck_uuid = jobs["stuck.wav"]["taskUUID"]
    assert stuck_uuid in logs["stuck"]
    assert "execution_timeout" in logs["stuck"], logs["stuck"][-3000:]
