"""The OpenLineage listener, as Airflow runs it: a ``dag.test()`` run with a file transport
writes the run's events, and the render's COMPLETE event carries our datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS
from .conftest import S3Server

pytest.importorskip("airflow.providers.openlineage")

pytestmark = pytest.mark.integration


@pytest.fixture
def openlineage_events(tmp_path: Path) -> Iterator[Path]:
    """OpenLineage on, with a file transport, for this test only; yields the events file.

    The provider caches its configuration, and registers its listener when Airflow loads
    plugins (once per process, maybe while it was off): both are reset here, before and after.
    """
    import os

    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins import listener as ol_listener

    try:
        from airflow.sdk.listener import get_listener_manager
    except ImportError:  # Airflow 2.11: the task runs in the scheduler's process model
        from airflow.listeners.listener import get_listener_manager

    def reset() -> None:
        for value in vars(ol_conf).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
        # Newer OpenLineage providers cache the adapter per process; older ones keep it on
        # the listener only.
        process_adapter = getattr(ol_listener, "_get_process_adapter", None)
        if process_adapter is not None:
            process_adapter.cache_clear()
        ol_listener.get_openlineage_listener().adapter._client = None

    events = tmp_path / "openlineage.json"
    settings = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "sync-tests",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    reset()
    manager = get_listener_manager()
    listener = ol_listener.get_openlineage_listener()
    added = not manager.pm.is_registered(listener)
    manager.add_listener(listener)
    try:
        yield events
    finally:
        if added:
            manager.pm.unregister(listener)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset()


def test_the_listener_emits_the_render_s_datasets(
    s3: S3Server,
    emulator: EmulatorServer,
    airflow_home: Any,
    monkeypatch: pytest.MonkeyPatch,
    openlineage_events: Path,
) -> None:
    events_file = openlineage_events
    bucket = s3.bucket("lineage-listener")
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", f"s3://{bucket}/")
    s3.put(bucket, "in/clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"v" * 1000)
    s3.put(bucket, "in/voice.wav", b"RIFF" + b"a" * 1000)
    dag = load_dag(EXAMPLE_DAGS / "example_sync_lipsync.py")
    conf = {
        "video": f"s3://{bucket}/in/clip.mp4",
        "audio": f"s3://{bucket}/in/voice.wav",
        "output_path": f"s3://{bucket}/renders/",
        "poll_interval": 0.2,
    }
    result = run_dag(dag, conf, deferrable=False)
    assert result.state == "success", result.tasks
    task_uuid = result.xcom["lipsync"]["task_uuid"]

    text = events_file.read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    [complete] = [
        e
        for e in events
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == "example_sync_lipsync.lipsync"
    ]
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        (f"s3://{bucket}", "in/clip.mp4"),
        (f"s3://{bucket}", "in/voice.wav"),
    ]
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [
        (f"s3://{bucket}", f"renders/{task_uuid}.mp4")
    ]
    assert "X-Amz" not in text  # presigned URLs never reach lineage
