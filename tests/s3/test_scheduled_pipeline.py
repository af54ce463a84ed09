"""The scheduled example: two consecutive data intervals against the S3 server and the
emulator; each clip that arrived is rendered exactly once, into ``renders/`` beside it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS
from ..dag_fixtures import asset_event_extras
from .conftest import S3Server
from .test_presigned_media import AUDIO, VIDEO

pytestmark = pytest.mark.integration


def _arrive(s3: S3Server, bucket: str, name: str) -> None:
    s3.put(bucket, f"incoming/{name}.wav", AUDIO)
    s3.put(bucket, f"incoming/{name}.mp4", VIDEO)
    # S3 stamps LastModified to the second: step past it, so the next instant is later.
    time.sleep(1.1)


def test_two_intervals_render_each_clip_exactly_once(
    s3: S3Server,
    emulator: EmulatorServer,
    airflow_home: Any,
    monkeypatch: pytest.MonkeyPatch,
    figures: list[str],
) -> None:
    bucket = s3.bucket("sched")
    renders = f"s3://{bucket}/renders/"
    monkeypatch.setenv("SYNC_EXAMPLE_INCOMING", f"s3://{bucket}/incoming/")
    monkeypatch.setenv("SYNC_EXAMPLE_RENDERS", renders)
    dag = load_dag(EXAMPLE_DAGS / "example_sync_scheduled.py", "example_sync_scheduled")
    conf = {"poll_interval": 0.2}

    _arrive(s3, bucket, "ep1-fr")
    first_end = datetime.now(timezone.utc).replace(microsecond=0)
    time.sleep(1.1)
    _arrive(s3, bucket, "ep1-de")
    _arrive(s3, bucket, "ep2-fr")
    # The next hourly interval: [first_end, first_end + 1h).
    second_end = first_end + timedelta(hours=1)

    first = run_dag(dag, conf, deferrable=False, logical_date=first_end)
    assert first.state == "success", first.tasks
    assert len(emulator.admin.submissions()) == 1
    second = run_dag(dag, conf, deferrable=False, logical_date=second_end)
    assert second.state == "success", second.tasks

    submitted = [
        t["inputs"]["video"].split("?", 1)[0].rsplit("/", 1)[-1]
        for t in emulator.admin.requests_tasks()
        if t.get("taskType") == "videoInference"
    ]
    assert sorted(submitted) == ["ep1-de.mp4", "ep1-fr.mp4", "ep2-fr.mp4"]  # each exactly once
    assert s3.keys(bucket, "renders/") == ["renders/ep1-de.mp4", "renders/ep1-fr.mp4", "renders/ep2-fr.mp4"]
    outputs = sorted(r["output_path"] for r in second.xcom["lipsync"])
    assert outputs == [f"{renders}ep1-de.mp4", f"{renders}ep2-fr.mp4"]
    # This bucket's: other tests of the example (a local folder) emit on the same asset.
    events = [
        e for e in asset_event_extras("sync_scheduled_renders") if str(e["output_path"]).startswith(renders)
    ]
    assert sorted(e["output_path"] for e in events) == [
        f"{renders}{n}.mp4" for n in ("ep1-de", "ep1-fr", "ep2-fr")
    ]
    figures.append(
        f"scheduled pipeline: 2 intervals, {len(submitted)} renders for 3 clips, {len(events)} asset events"
    )
