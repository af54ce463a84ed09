"""The ``@task`` example renders one clip through the hook, as the docs show it."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import RunDag

pytestmark = pytest.mark.integration


def test_a_task_renders_one_clip_with_the_hook(
    emulator: EmulatorServer,
    run_dag: RunDag,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    result = run_dag("example_sync_python.py", {"sync_mode": "loop"})
    assert result.state == "success", result.tasks
    [sent] = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert sent["providerSettings"] == {"sync": {"syncMode": "loop"}}
    assert sent["inputs"]["audio"] == [{"id": "dialogue", "source": "b4c57832-2075-492b-bf89-9b5e3ac02503"}]
    out = result.xcom["dub_clip"]
    job = emulator.admin.job(sent["taskUUID"])
    assert out["task_uuid"] == sent["taskUUID"]
    assert out["video_url"] == job["videoURL"]
    assert out["cost"] == pytest.approx(job["cost"])
    # Task logs reach the test's output or its log records, depending on what ran before.
    logs = "".join(capfd.readouterr()) + caplog.text
    assert f"Runware task UUID: {sent['taskUUID']} (submitted)" in logs
    assert f"Rendered {job['videoURL']}" in logs
