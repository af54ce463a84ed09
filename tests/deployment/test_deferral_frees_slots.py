"""On a real deployment, deferred renders hold no worker slot.

Starts the emulator (20 s renders) and a LocalExecutor deployment with ``parallelism = 2``,
then runs a DAG of 20 lip-sync tasks. Polling in the worker, two slots would need 10 rounds
of 20 s (200 s); deferred, all 20 wait in the triggerer at once.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_sync.testing.emulator import EmulatorProcess

from .stack import AirflowStack

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(400)]

TASKS = 20
RENDER_SECONDS = 20.0
API_KEY = "deploy-test-key-93af"
DAG_ID = "deployment_twenty_renders"

DAG_FILE = textwrap.dedent(
    f'''
    from datetime import datetime

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG

    from airflow_provider_sync.operators.sync import SyncLipsyncOperator

    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
        for n in range({TASKS}):
            SyncLipsyncOperator(
                task_id=f"clip_{{n:02d}}",
                video="c64351d5-4c59-42f7-95e1-eace013eddab",
                audio=f"https://cdn.example.com/clip-{{n}}.wav",
                deferrable=True,
                poll_interval=2,
            )
    '''
)


def test_twenty_deferred_renders_finish_in_one_render_time_on_two_slots(
    tmp_path: Path, figures: list[str]
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "twenty.py").write_text(DAG_FILE)
    emulator_args = ["--api-key", API_KEY, "--render-seconds", str(RENDER_SECONDS), "--output", "metadata"]
    with EmulatorProcess(emulator_args) as emulator:
        conn = {"conn_type": "runware", "host": emulator.base_url, "password": API_KEY}
        env = {"AIRFLOW__CORE__PARALLELISM": "2", "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(conn)}
        with AirflowStack(tmp_path / "airflow", dags, env) as stack:
            stack.wait_for_dag(DAG_ID)
            run_id = "deployment_test"
            started = time.monotonic()
            stack.cli("dags", "trigger", DAG_ID, "--run-id", run_id)
            peak_running = peak_deferred = 0
            state = None
            while time.monotonic() - started < 300:
                stack.check_alive()
                counts = stack.task_states(DAG_ID, run_id)
                peak_running = max(peak_running, counts.get("running", 0))
                peak_deferred = max(peak_deferred, counts.get("deferred", 0))
                state = stack.run_state(DAG_ID, run_id)
                if state in ("success", "failed"):
                    break
                time.sleep(0.5)
            wall = time.monotonic() - started
            final = stack.task_states(DAG_ID, run_id)
            submissions = len(emulator.admin.submissions())
            figures.append(
                f"[deployment] {TASKS} tasks, render {RENDER_SECONDS:.0f} s, parallelism 2: run {state} "
                f"in {wall:.1f} s (worker polling would need >= {TASKS / 2 * RENDER_SECONDS:.0f} s); "
                f"peak running {peak_running}, peak deferred {peak_deferred}; "
                f"final states {dict(final)}; emulator submissions {submissions}"
            )
            assert state == "success", stack.tail("scheduler") + stack.tail("triggerer")
    assert final == {"success": TASKS}
    assert submissions == TASKS
    assert peak_running <= 2
    # More renders waiting at once than there are slots: impossible if waiting held a slot.
    # (How many more depends on how fast a busy machine starts tasks, so no exact figure.)
    assert peak_deferred > 2
    assert wall < TASKS / 2 * RENDER_SECONDS  # worker polling cannot finish in under 200 s
