"""A Celery worker SIGKILLed after submitting, before deferring: the retry re-attaches.

This is the window where a paid job exists that no trigger knows about. The test DAG's
operator stops in it on its first try (see ``crash_dag`` in conftest: it sleeps where it
would defer). Once the emulator has the job, the worker running the task is killed with
its whole process tree. Airflow fails the silent task instance after the heartbeat timeout
and retries it on the other worker; the retry derives the same taskUUID, finds the job
processing, re-attaches, defers and succeeds. The emulator must have seen one submission.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import CRASH_DAG, Cluster

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

RENDER_SECONDS = 20.0


def test_worker_killed_between_submit_and_defer_retry_reattaches_without_resubmitting(
    cluster: Cluster, figures: list[str]
) -> None:
    stack, admin = cluster.stack, cluster.admin
    workers = stack.ensure("worker", 2)  # one to kill, one for the retry
    admin.reset()
    admin.configure(render_seconds=RENDER_SECONDS)
    cluster.hold_file.unlink(missing_ok=True)
    run_id = "crash"
    started = time.monotonic()
    stack.cli("dags", "trigger", CRASH_DAG, "--run-id", run_id)

    # The job is paid for and the task is parked just before defer().
    deadline = started + 180
    while not (cluster.hold_file.exists() and cluster.hold_file.read_text() and admin.submissions()):
        stack.check_alive()
        assert time.monotonic() < deadline, f"the task never reached the hold: {stack.tail(workers[0])}"
        time.sleep(0.25)
    task_pid = int(cluster.hold_file.read_text())
    owner = next((w for w in workers if task_pid in {p.pid for p in stack.tree(w)}), None)
    assert owner is not None, f"pid {task_pid} is under no worker we started"
    (job,) = admin.submissions()
    assert admin.job(job)["status"] == "processing"

    killed_at = time.monotonic()
    stack.kill(owner)
    state = stack.wait_for_run(CRASH_DAG, run_id, timeout=300)
    recovered = time.monotonic() - killed_at
    rows = stack.query(
        "SELECT state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?", (CRASH_DAG, run_id)
    )
    stats = admin.stats()
    submit_requests = sum(1 for t in admin.requests_tasks() if t.get("taskType") == "videoInference")
    retry_log = _attempt_log(stack.home, run_id, 2)
    figures.append(
        f"[distributed/worker-crash] job {job[:8]} submitted, {owner} SIGKILLed before defer; "
        f"run {state} {recovered:.1f} s after the kill (heartbeat timeout 25 s), task {rows}; "
        f"emulator submissions {stats['submissions']}, videoInference requests {submit_requests}, "
        f"duplicates {stats['duplicates']}; retry log says re-attached: {'re-attach' in retry_log}"
    )
    assert state == "success", stack.tail("scheduler")
    assert rows == [("success", 2)]  # the first try died with the worker; the second finished
    assert stats["submissions"] == 1
    assert submit_requests == 1  # the retry did not even try to submit
    assert f"Runware task UUID: {job} (re-attached" in retry_log


def _attempt_log(home: Path, run_id: str, attempt: int) -> str:
    paths = list((home / "logs").glob(f"dag_id={CRASH_DAG}/run_id={run_id}/task_id=*/attempt={attempt}.log"))
    return "\n".join(p.read_text(errors="replace") for p in paths)
