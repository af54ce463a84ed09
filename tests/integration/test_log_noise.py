"""What a run logs: no error lines that are not errors (issue 19, point 16).

A fan-out run logged ``[error] XCom not found ... key='return_value' offset=N`` when the
collecting task iterated the mapped results (Airflow's lazy sequence probes one item past
the end); a mapped task that failed validation logged ``XCom not found ... key='video_url'``
because it failed before pushing the link's XCom. ``dag.test()`` writes the task logs to
the test's output, which these tests read.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import RunDag

pytestmark = pytest.mark.integration

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def logs(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, since: float) -> str:
    """What the run logged: the test's output, its log records, and task log files written
    since ``since`` (where ``dag.test()`` sends task logs depends on the Airflow release)."""
    from airflow_provider_sync._compat import conf

    out = capfd.readouterr()
    folder = Path(conf.get("logging", "base_log_folder"))
    files = [f for f in folder.rglob("*") if f.is_file() and f.stat().st_mtime >= since]
    return out.out + out.err + caplog.text + "".join(f.read_text(errors="replace") for f in files)


def clips(n: int) -> list[dict[str, str]]:
    return [{"name": f"ep{i}", "video": VIDEO, "audio": f"https://cdn.test/ep{i}.wav"} for i in range(n)]


def test_a_fan_out_run_logs_no_missing_xcom(
    emulator: EmulatorServer,
    run_dag: RunDag,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    since = time.time() - 1
    result = run_dag("example_sync_fanout.py", {"clips": clips(3)}, deferrable=False)
    text = logs(capfd, caplog, since)
    assert result.state == "success", result.tasks
    assert result.xcom["report"]["videos"] == 3
    assert "3 videos rendered" in text  # the collecting task ran and its log is here
    assert "XCom not found" not in text


def test_a_mapped_task_failing_validation_logs_its_error_and_no_missing_xcom(
    emulator: EmulatorServer,
    run_dag: RunDag,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = clips(3)
    batch[1]["sync_mode"] = "remapp"  # from the run's conf: checked when the task runs
    caplog.set_level(logging.INFO)
    since = time.time() - 1
    result = run_dag("example_sync_fanout.py", {"clips": batch}, deferrable=False)
    text = logs(capfd, caplog, since)
    assert result.tasks["lipsync[1]"] == "failed"
    assert result.tasks["lipsync[0]"] == result.tasks["lipsync[2]"] == "success"
    assert "sync_mode (providerSettings.sync.syncMode): 'remapp' is not allowed" in text
    assert "XCom not found" not in text
    # Nothing was sent for the invalid clip.
    sent = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert len(sent) == 2
