"""The scheduled example on a machine without a bucket: a local folder under the allowed
roots, or, with nothing configured, a skip that says what to set (never a credentials error).
The bucket case is ``tests/s3/test_scheduled_pipeline.py``."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.samples import make_sample_audio, make_sample_video
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS

pytestmark = pytest.mark.integration

DAG_FILE = EXAMPLE_DAGS / "example_sync_scheduled.py"
ROOTS_ENV = "AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS"


@pytest.fixture
def no_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYNC_EXAMPLE_INCOMING", "SYNC_EXAMPLE_RENDERS", ROOTS_ENV):
        monkeypatch.delenv(name, raising=False)


def _arrive(folder: Path, name: str, at: datetime, *, audio: bool = True) -> None:
    video = make_sample_video(folder / f"{name}.mp4", 1.0)
    os.utime(video, (at.timestamp(), at.timestamp()))
    if audio:
        make_sample_audio(folder / f"{name}.wav", 1.0)


def test_without_a_bucket_the_clips_are_read_from_a_folder_under_the_allowed_root(
    no_bucket: None,
    emulator: EmulatorServer,
    airflow_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "media"
    monkeypatch.setenv(ROOTS_ENV, str(root))
    dag = load_dag(DAG_FILE, "example_sync_scheduled")
    incoming = root / "example_sync_scheduled" / "incoming"
    renders = root / "example_sync_scheduled" / "renders"
    end = datetime.now(timezone.utc).replace(microsecond=0)
    conf = {"poll_interval": 0.2}

    # Nothing there yet: the folders are made, no clip is rendered, the run succeeds.
    empty = run_dag(dag, conf, logical_date=end - timedelta(hours=2))
    assert empty.state == "success", empty.tasks
    assert incoming.is_dir()
    assert renders.is_dir()
    assert emulator.admin.submissions() == []

    _arrive(incoming, "ep1-fr", end - timedelta(minutes=30))  # in [end - 1h, end)
    _arrive(incoming, "ep1-de", end + timedelta(minutes=30))  # the next hour's
    _arrive(incoming, "no-audio", end - timedelta(minutes=20), audio=False)  # not a clip yet

    first = run_dag(dag, conf, logical_date=end)
    assert first.state == "success", first.tasks
    second = run_dag(dag, conf, logical_date=end + timedelta(hours=1))
    assert second.state == "success", second.tasks

    assert sorted(p.name for p in renders.iterdir()) == ["ep1-de.mp4", "ep1-fr.mp4"]
    [one] = first.xcom["lipsync"]
    [two] = second.xcom["lipsync"]
    assert one["output_path"] == str(renders / "ep1-fr.mp4")
    assert two["output_path"] == str(renders / "ep1-de.mp4")
    assert sorted(emulator.admin.submissions()) == sorted([one["task_uuid"], two["task_uuid"]])
    # The emulator's fast mode saves a JSON description of the job in place of the video.
    saved = json.loads((renders / "ep1-fr.mp4").read_text())
    assert saved["taskUUID"] == one["task_uuid"]


def test_a_manual_run_without_a_logical_date_takes_the_hour_before_it(
    no_bucket: None,
    emulator: EmulatorServer,
    airflow_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ROOTS_ENV, str(tmp_path))
    dag = load_dag(DAG_FILE, "example_sync_scheduled")
    incoming = tmp_path / "example_sync_scheduled" / "incoming"
    triggered = datetime.now(timezone.utc).replace(microsecond=0)
    _arrive(incoming, "recent", triggered - timedelta(minutes=10))
    _arrive(incoming, "old", triggered - timedelta(hours=3))
    # What the UI's trigger button makes in Airflow 3: no logical date, so no data interval.
    result = run_dag(dag, {"poll_interval": 0.2}, logical_date=None, run_after=triggered)
    assert result.state == "success", result.tasks
    assert [r["output_path"].rsplit("/", 1)[-1] for r in result.xcom["lipsync"]] == ["recent.mp4"]


def test_with_nothing_configured_the_run_skips_saying_what_to_set(
    no_bucket: None,
    emulator: EmulatorServer,
    airflow_home: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    dag = load_dag(DAG_FILE, "example_sync_scheduled")
    result = run_dag(dag, {"poll_interval": 0.2}, logical_date=datetime.now(timezone.utc))
    assert result.state == "success"
    assert result.tasks == {"arrivals": "skipped", "lipsync": "skipped"}
    assert emulator.admin.requests() == []
    # Task logs reach the test's output or its log records, depending on what ran before.
    said = "".join(capfd.readouterr()) + caplog.text
    assert "SYNC_EXAMPLE_INCOMING" in said
    assert "allowed_media_roots" in said
    assert "NoCredentialsError" not in said
