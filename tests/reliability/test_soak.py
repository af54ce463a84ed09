"""Soak: many renders through the operators with a fifth of all requests faulted.

Every job must end with the right result, and no task instance may pay for a second job
unless its first one failed. Figures are printed at the end. The default size suits CI;
``pytest --soak-jobs 3000`` (or ``SYNC_SOAK_JOBS``) runs it bigger.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_sync._compat import AirflowFailException
from airflow_provider_sync.exceptions import RunwareError
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..operators.conftest import FakeTI
from .conftest import lipsync, run_to_end

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

#: Request-level faults; together about 20% of requests.
REQUEST_FAULTS = [
    {"kind": "status", "status": 503, "rate": 0.03},
    {"kind": "status", "status": 502, "rate": 0.03},
    {"kind": "rate_limit", "retry_after": 0.1, "rate": 0.04},
    {"kind": "reset", "rate": 0.03},
    {"kind": "lost_response", "rate": 0.02},
    {"kind": "lost_after_accept", "rate": 0.02},
    {"kind": "status", "status": 408, "rate": 0.01},
    {"kind": "malformed", "rate": 0.03},
    {"kind": "slow", "delay": 1.2, "rate": 0.01},
]
JOB_FAULTS = [
    {"kind": "job_error", "code": "timeoutProvider", "message": "soak: provider timeout", "rate": 0.05},
    {"kind": "forget", "polls": 2, "rate": 0.02},
]
AIRFLOW_TRIES = 4


def run_task_instance(n: int) -> dict[str, Any]:
    """One task instance with Airflow-style retries; what happened to it."""
    tries = 0
    job_errors = 0
    while True:
        tries += 1
        try:
            op = lipsync(n=n, task_id=f"clip_{n:04d}", deferrable=n % 2 == 0)
            result = run_to_end(op, FakeTI(task_id=f"clip_{n:04d}"))
            return {"n": n, "result": result, "tries": tries, "job_errors": job_errors}
        except AirflowFailException as exc:  # permanent: Airflow would not retry
            return {"n": n, "error": repr(exc), "tries": tries, "job_errors": job_errors}
        except RunwareError as exc:
            job_errors += exc.code == "timeoutProvider"
            if tries >= AIRFLOW_TRIES:
                return {"n": n, "error": repr(exc), "tries": tries, "job_errors": job_errors}


def test_soak(emu: EmulatorServer, request: pytest.FixtureRequest, figures: list[str]) -> None:
    jobs = int(request.config.getoption("soak_jobs"))
    emu.admin.configure(render_seconds=0.3, log_limit=200_000)
    emu.admin.set_faults([*REQUEST_FAULTS, *JOB_FAULTS])
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(run_task_instance, range(jobs)))
    wall = time.monotonic() - started
    emu.admin.clear_faults()

    stats = emu.admin.stats()
    by_uuid = {j["taskUUID"]: j for j in emu.admin.jobs()}
    # Paid jobs per task instance that did not fail: more than one is a double payment.
    good_jobs_per_ti = Counter(
        j["request"]["inputs"]["audio"][0]["source"] for j in by_uuid.values() if j["status"] != "error"
    )
    failed_jobs = sum(1 for j in by_uuid.values() if j["status"] == "error")
    duplicates = sum(max(0, n - 1) for n in good_jobs_per_ti.values())
    failures = [o for o in outcomes if "error" in o]
    wrong = []
    for o in outcomes:
        if "result" in o:
            job = by_uuid.get(o["result"]["task_uuid"])
            if job is None or job["status"] != "success" or job["videoURL"] != o["result"]["video_url"]:
                wrong.append(o["n"])
    log = emu.admin.requests()
    faulted = Counter(r["fault"] for r in log if r.get("fault"))
    share = 100 * sum(faulted.values()) / max(1, stats["requests"])
    job_faults = {k: v for k, v in stats["faults"].items() if k in ("job_error", "forget")}
    figures.append(
        f"[soak] jobs {jobs}, wall {wall:.1f} s, requests {stats['requests']}, "
        f"faulted requests {sum(faulted.values())} ({share:.1f}%): {dict(faulted)}; job faults {job_faults}; "
        f"client retries after faults {sum(faulted.values())}; "
        f"Airflow retries {sum(o['tries'] - 1 for o in outcomes)}; jobs created {len(by_uuid)} "
        f"({failed_jobs} failed by injection); "
        f"duplicate submissions refused by Runware {stats['duplicates']}; "
        f"duplicate paid jobs {duplicates}; failed task instances {len(failures)}; wrong results {len(wrong)}"
    )
    assert failures == []
    assert wrong == []
    assert duplicates == 0
    assert 0.12 < sum(faulted.values()) / stats["requests"] < 0.28  # the fault rate really was ~20%
    assert len(by_uuid) == jobs + failed_jobs
    assert failed_jobs == stats["faults"].get("job_error", 0)
