"""``python -m airflow_provider_sync.testing.emulator``: a local Runware for offline DAG development."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

from airflow_provider_sync.testing.emulator.config import DEFAULT_API_KEY, EmulatorConfig, default_output_mode
from airflow_provider_sync.testing.emulator.faults import KINDS, FaultRule
from airflow_provider_sync.testing.emulator.server import LISTENING, bind, build_state, make_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m airflow_provider_sync.testing.emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help=f"accepted key (repeatable; default {DEFAULT_API_KEY})",
    )
    p.add_argument("--render-seconds", type=float, default=3.0, help="fixed render time of every job")
    p.add_argument(
        "--render-seconds-per-audio-second",
        type=float,
        default=0.0,
        help="render time added per audio second",
    )
    p.add_argument(
        "--media-dir", type=Path, help="keep uploads and outputs here (default: a temporary folder)"
    )
    p.add_argument(
        "--output",
        choices=["render", "metadata"],
        default=default_output_mode(),
        help="real video or a JSON stand-in",
    )
    p.add_argument("--fault", action="append", default=[], help=f"KIND[:RATE], kinds: {', '.join(KINDS)}")
    p.add_argument("--fault-rate", type=float, help="rate for --fault entries given without one")
    p.add_argument("--rate-limit", type=float, default=0.0, help="requests per second before 429 (0 = off)")
    p.add_argument("--credit-usd", type=float, help="account balance (default unlimited)")
    p.add_argument("--seed", type=int, help="seed for fault dice")
    p.add_argument("--log-level", default="warning")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = EmulatorConfig(
        api_keys=args.api_keys or [DEFAULT_API_KEY],
        render_seconds=args.render_seconds,
        render_seconds_per_audio_second=args.render_seconds_per_audio_second,
        media_dir=args.media_dir,
        output=args.output,
        rate_limit=args.rate_limit,
        credit_usd=args.credit_usd,
        seed=args.seed,
    )
    faults = []
    for text in args.fault:
        rule = FaultRule.parse(text)
        if rule.rate is None and args.fault_rate is not None:
            rule.rate = args.fault_rate
        faults.append(rule)
    state, temp = build_state(config, faults)
    server = make_server(state, args.log_level)
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]

    async def serve() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.01)
        if server.started:
            print(f"{LISTENING}http://{args.host}:{port}/v1", flush=True)
        await task

    try:
        asyncio.run(serve())
    finally:
        state.close()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
