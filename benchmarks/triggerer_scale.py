"""How many renders can one triggerer carry? Our trigger vs. one-request-per-job pollers.

Starts the local emulator, submits N jobs, then runs N triggers in one asyncio event loop
(as a triggerer does) until every job has fired its event, and prints per variant:

* HTTP requests per poll cycle (and jobs per request),
* CPU seconds per 1,000 trigger-polls (this process only; the emulator runs apart),
* peak RSS of the process,
* p50/p95 delay between a job finishing on the emulator and its trigger firing.

Each variant runs in a fresh child process so their memory figures do not mix. Variants:

* ``ours``: :class:`RunwareTaskTrigger`, whose polls are coalesced into batched
  ``getResponse`` requests over one client per connection and event loop;
* ``shared``: the best design without batching: one ``getResponse`` per job per poll, over
  ONE ``httpx.AsyncClient`` shared by every trigger (keep-alive pool of 100 connections);
* ``naive``: the way most providers poll: each trigger sleeps, opens a new
  ``httpx.AsyncClient``, POSTs one ``getResponse``, closes the client.

``shared`` against ``naive`` is what client reuse buys; ``ours`` against ``shared`` is what
batching buys on top of it.

    .venv/bin/python benchmarks/triggerer_scale.py            # N = 1,000
    .venv/bin/python benchmarks/triggerer_scale.py --n 5000   # the big run

Targets (N = 5,000, 10 s poll interval): at most 1 request per 50 jobs per cycle, under 25%
of one core, under 300 MB RSS, p95 detection delay under poll interval + 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

API_KEY = "bench-key"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def submit_jobs(base_url: str, n: int) -> list[str]:
    """Submit ``n`` lip-sync jobs in bulk (the benchmark measures waiting, not submitting)."""
    import httpx

    uuids = [str(uuid.uuid4()) for _ in range(n)]
    with httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120) as client:
        for start in range(0, n, 500):
            tasks = [
                {
                    "taskType": "videoInference",
                    "taskUUID": u,
                    "model": "sync:lipsync-2@1",
                    "deliveryMethod": "async",
                    "includeCost": True,
                    "inputs": {"video": VIDEO, "audio": [{"id": "a", "source": f"https://cdn.test/{u}.wav"}]},
                }
                for u in uuids[start : start + 500]
            ]
            resp = client.post(base_url, json=tasks)
            resp.raise_for_status()
    return uuids


async def run_ours(uuids: list[str], interval: float, spread: float) -> tuple[dict[str, float], int]:
    from airflow_provider_sync.hooks import batch_poller as poller_mod
    from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

    fired: dict[str, float] = {}
    now = time.time()
    polls = 0

    async def one(task_uuid: str, started: float) -> None:
        trigger = RunwareTaskTrigger(task_uuid, poll_interval=interval, started=started)
        async for event in trigger.run():
            assert event.payload["status"] == "success", event.payload
            fired[task_uuid] = time.time()

    async def count_polls() -> None:
        nonlocal polls
        while True:
            for p in poller_mod.active_pollers():
                polls = max(polls, p.stats.polls)
            await asyncio.sleep(0.5)

    counter = asyncio.ensure_future(count_polls())
    # Triggers start as their tasks defer, spread over the first poll interval.
    await asyncio.gather(*(one(u, now + random.uniform(0, spread)) for u in uuids))
    counter.cancel()
    return fired, polls


async def run_naive(
    uuids: list[str], interval: float, spread: float, base_url: str, shared: bool = False
) -> tuple[dict[str, float], int]:
    """One ``getResponse`` per job per poll: a new client each time, or one ``shared`` client."""
    import httpx

    fired: dict[str, float] = {}
    polls = 0
    now = time.time()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    # The pool keeps as many idle connections as it may open, so a poll wave never has to
    # open (and then drop) a connection: the most a non-batching poller can get from reuse.
    common = httpx.AsyncClient(
        headers=headers,
        timeout=60,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
    )

    async def poll(client: httpx.AsyncClient, task_uuid: str) -> httpx.Response:
        return await client.post(base_url, json=[{"taskType": "getResponse", "taskUUID": task_uuid}])

    async def one(task_uuid: str, started: float) -> None:
        nonlocal polls
        await asyncio.sleep(max(0.0, started - time.time()))
        while True:
            await asyncio.sleep(interval)
            try:
                if shared:
                    resp = await poll(common, task_uuid)
                else:
                    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
                        resp = await poll(client, task_uuid)
            except httpx.HTTPError:
                continue
            polls += 1
            items = resp.json().get("data") or []
            if items and items[0].get("status") == "success":
                fired[task_uuid] = time.time()
                return

    try:
        await asyncio.gather(*(one(u, now + random.uniform(0, spread)) for u in uuids))
    finally:
        await common.aclose()
    return fired, polls


def child(args: argparse.Namespace) -> None:
    """One variant, in its own process; prints one JSON line of figures."""
    from airflow_provider_sync.testing.emulator import EmulatorAdmin

    admin = EmulatorAdmin(args.admin_url)
    uuids = json.loads(args.uuids_file.read()) if hasattr(args.uuids_file, "read") else []
    # Import before the clock starts: a triggerer has Airflow and httpx loaded already.
    import httpx  # noqa: F401

    if args.variant == "ours":
        import airflow_provider_sync.triggers.runware  # noqa: F401
    requests_before = admin.stats()["requests"]
    cpu0, wall0 = time.process_time(), time.monotonic()
    if args.variant == "ours":
        fired, polls = asyncio.run(run_ours(uuids, args.interval, args.interval))
    else:
        shared = args.variant == "shared"
        fired, polls = asyncio.run(run_naive(uuids, args.interval, args.interval, args.base_url, shared))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    requests = admin.stats()["requests"] - requests_before
    jobs = {j["taskUUID"]: j for j in admin.jobs() if j["taskUUID"] in fired}
    delays = sorted(fired[u] - float(jobs[u]["ready_at"]) for u in fired if u in jobs)
    cycles = wall / args.interval
    print(
        json.dumps(
            {
                "variant": args.variant,
                "jobs": len(uuids),
                "fired": len(fired),
                "wall_s": wall,
                "requests": requests,
                "requests_per_cycle": requests / cycles,
                "polls": polls,
                "cpu_s": cpu,
                "cpu_per_1000_polls": cpu / max(1, polls) * 1000,
                "core_share": cpu / wall,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "p50_delay_s": statistics.median(delays) if delays else None,
                "p95_delay_s": delays[int(0.95 * (len(delays) - 1))] if delays else None,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="concurrent jobs (default 1000)")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--render", type=float, default=25.0, help="emulated render time, seconds")
    parser.add_argument("--variants", default="ours,shared,naive", help="ours, shared, naive")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--uuids-file", type=argparse.FileType(), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--admin-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return 0

    from airflow_provider_sync.testing.emulator import EmulatorProcess

    results = []
    emulator_args = ["--api-key", API_KEY, "--render-seconds", str(args.render), "--output", "metadata"]
    with EmulatorProcess(emulator_args) as emulator:
        conn = {"conn_type": "runware", "host": emulator.base_url, "password": API_KEY}
        env = {
            **os.environ,
            "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(conn),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        for variant in args.variants.split(","):
            emulator.admin.reset()
            uuids = submit_jobs(emulator.base_url, args.n)
            path = f"/tmp/triggerer_scale_{os.getpid()}_{variant}.json"
            with open(path, "w") as f:
                json.dump(uuids, f)
            print(f"running {variant}: {args.n} triggers, poll every {args.interval:g} s ...", flush=True)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--variant",
                    variant,
                    "--uuids-file",
                    path,
                    "--interval",
                    str(args.interval),
                    "--base-url",
                    emulator.base_url,
                    "--admin-url",
                    emulator.url,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            os.unlink(path)
            if out.returncode != 0:
                print(out.stderr[-3000:])
                return 1
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print_table(results, args)
    if args.json:
        print(json.dumps(results))
    return 0


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    rows = [
        ("jobs fired / submitted", lambda r: f"{r['fired']}/{r['jobs']}"),
        ("wall time (s)", lambda r: f"{r['wall_s']:.1f}"),
        ("HTTP requests per cycle", lambda r: f"{r['requests_per_cycle']:.1f}"),
        ("jobs per request", lambda r: f"{r['jobs'] / max(r['requests_per_cycle'], 1e-9):.1f}"),
        ("trigger-polls", lambda r: f"{r['polls']}"),
        ("CPU s per 1,000 polls", lambda r: f"{r['cpu_per_1000_polls']:.3f}"),
        ("share of one core", lambda r: f"{100 * r['core_share']:.1f}%"),
        ("peak RSS (MB)", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("p50 detection delay (s)", lambda r: f"{r['p50_delay_s']:.2f}"),
        ("p95 detection delay (s)", lambda r: f"{r['p95_delay_s']:.2f}"),
    ]
    print(
        f"\nN = {args.n} jobs, poll interval {args.interval:g} s, render {args.render:g} s, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    names = [r["variant"] for r in results]
    print(f"{'':28}" + "".join(f"{n:>14}" for n in names))
    for label, fmt in rows:
        print(f"{label:28}" + "".join(f"{fmt(r):>14}" for r in results))


if __name__ == "__main__":
    sys.exit(main())
