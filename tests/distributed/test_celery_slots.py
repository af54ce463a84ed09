"""Deferral frees Celery slots: one worker of concurrency 2 carries 20 renders of 20 s at once.

Polling in the worker, two Celery processes would need ten rounds of 20 s (200 s); deferred,
each task holds a process only while it submits, and all 20 renders wait in the triggerers.
"""

from __future__ import annotations

import time

import pytest

from .conftest import SLOTS_DAG, SLOTS_TASKS, Cluster

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

RENDER_SECONDS = 20.0
BUDGET_SECONDS = 60.0


def test_twenty_renders_of_20s_finish_under_60s_on_two_celery_slots(
    cluster: Cluster, figures: list[str]
) -> None:
    stack, admin = cluster.stack, cluster.admin
    workers = stack.ensure("worker", 1)  # one worker, concurrency 2: two slots in all
    stack.ensure("triggerer", 2)
    admin.reset()
    admin.configure(render_seconds=RENDER_SECONDS)
    run_id = "slots"
    started = time.monotonic()
    stack.cli("dags", "trigger", SLOTS_DAG, "--run-id", run_id)
    peak_running = peak_deferred = 0
    state = None
    while time.monotonic() - started < 400:
        stack.check_alive()
        counts = stack.task_states(SLOTS_DAG, run_id)
        peak_running = max(peak_running, counts.get("running", 0))
        peak_deferred = max(peak_deferred, counts.get("deferred", 0))
        state = stack.run_state(SLOTS_DAG, run_id)
        if state in ("success", "failed"):
            break
        time.sleep(0.5)
    wall = time.monotonic() - started
    times = stack.run_times(SLOTS_DAG, run_id)
    run_seconds = times[1] - times[0] if times else float("nan")
    final = stack.task_states(SLOTS_DAG, run_id)
    stats = admin.stats()
    figures.append(
        f"[distributed/slots] {SLOTS_TASKS} renders of {RENDER_SECONDS:.0f} s on 1 Celery worker x "
        f"concurrency 2: run {state} in {run_seconds:.1f} s (queued -> end; {wall:.1f} s with the "
        f"trigger CLI), worker polling would need >= {SLOTS_TASKS / 2 * RENDER_SECONDS:.0f} s; "
        f"peak running {peak_running}, peak deferred {peak_deferred}; "
        f"emulator submissions {stats['submissions']}, duplicates {stats['duplicates']}"
    )
    assert state == "success", stack.tail("scheduler") + stack.tail(workers[0])
    assert final == {"success": SLOTS_TASKS}
    assert stats["submissions"] == SLOTS_TASKS
    assert peak_running <= 2
    assert peak_deferred >= SLOTS_TASKS - 4  # nearly all waiting in the triggerers at once
    assert run_seconds < BUDGET_SECONDS
