"""A user's test of their own DAG, offline, with the ``runware_emulator`` fixture."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

DAGS = Path(__file__).parent / "dags"

CONF = {"video": "https://cdn.example.com/trailer.mp4", "audio": "https://cdn.example.com/trailer-fr.wav"}


def test_the_trailer_is_dubbed_with_one_paid_job(runware_emulator: EmulatorServer) -> None:
    result = run_dag(load_dag(DAGS / "dub_trailer.py"), CONF)
    assert result.state == "success"
    [job] = runware_emulator.admin.submissions()
    assert result.xcom["lipsync"]["task_uuid"] == job
    [sent] = [t for t in runware_emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert sent["inputs"]["audio"] == [{"id": "audio-1", "source": CONF["audio"]}]


def test_a_provider_timeout_fails_the_task(runware_emulator: EmulatorServer) -> None:
    runware_emulator.admin.set_faults([{"kind": "job_error", "code": "timeoutProvider", "count": 1}])
    result = run_dag(load_dag(DAGS / "dub_trailer.py"), CONF)
    assert result.state == "failed"
    assert result.tasks == {"lipsync": "failed"}
