"""A user's tests of their own DAG, offline, against the local Runware emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_sync.testing.dags import DagResult, run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.samples import make_sample_audio, make_sample_video
from airflow_provider_sync.testing.sandbox import load_dag

DAGS = Path(__file__).parent / "dags"

CONF = {"video": "https://cdn.example.com/trailer.mp4", "audio": "https://cdn.example.com/trailer-fr.wav"}


def test_the_trailer_is_dubbed_with_one_paid_job(
    runware_run_dag: Callable[..., DagResult], runware_emulator: EmulatorServer
) -> None:
    result = runware_run_dag(load_dag(DAGS / "dub_trailer.py"), CONF)  # polls every 0.2 s
    assert result.state == "success"
    [job] = runware_emulator.admin.submissions()
    assert result.xcom["lipsync"]["task_uuid"] == job
    [sent] = [t for t in runware_emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert sent["inputs"]["audio"] == [{"id": "audio-1", "source": CONF["audio"]}]


def test_local_files_are_uploaded_first(
    runware_run_dag: Callable[..., DagResult],
    runware_emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    video = make_sample_video(tmp_path / "trailer.mp4", seconds=3)
    audio = make_sample_audio(tmp_path / "trailer-fr.wav", seconds=2)
    # Paths from dag_run.conf may only name folders the deployment allows.
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path))
    result = runware_run_dag(load_dag(DAGS / "dub_trailer.py"), {"video": str(video), "audio": str(audio)})
    assert result.state == "success"
    assert runware_emulator.admin.stats()["media_uploads"] == 2


def test_a_provider_timeout_fails_the_task(runware_emulator: EmulatorServer) -> None:
    runware_emulator.admin.set_faults([{"kind": "job_error", "code": "timeoutProvider", "count": 1}])
    result = run_dag(load_dag(DAGS / "dub_trailer.py"), CONF, poll_interval=0.2)
    assert result.state == "failed"
    assert result.tasks == {"lipsync": "failed"}
