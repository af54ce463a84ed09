"""``make demo``: run the lip-sync example DAG against the local Runware emulator.

Starts the emulator, builds a throwaway Airflow home (SQLite) under ``.demo/``, runs
``example_sync_lipsync`` with ``dag.test()`` on generated sample media (a 6 s clip and a
4 s voice, uploaded from local files; the task defers and the trigger polls the emulator),
saves the rendered video under ``.demo/output/`` with a contact sheet, prints where they
went, and stops everything it started. ``--sync-mode loop`` etc. to hear the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".demo"
DAG_FILE = REPO / "example_dags" / "example_sync_lipsync.py"
API_KEY = "demo-key-not-a-secret"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sync-mode", default="bounce", choices=["bounce", "loop", "cut_off", "silence", "remap"]
    )
    parser.add_argument("--output-format", default="MP4", choices=["MP4", "WEBM", "MOV"])
    parser.add_argument("--render-seconds", type=float, default=4.0, help="emulated render time")
    args = parser.parse_args()

    from airflow_provider_sync.testing.sandbox import migrate_db, runware_conn_env, sandbox_env

    started = time.monotonic()
    home = WORK / "airflow"
    shutil.rmtree(home, ignore_errors=True)
    env = sandbox_env(home, DAG_FILE.parent)
    # The run's conf names local files (the samples in, the video out). Paths from a run's conf
    # are only read or written under folders the deployment allows; this demo is the deployment.
    env["AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS"] = f"{WORK / 'samples'},{WORK / 'output'}"
    # Airflow reads its configuration at first import: set it before anything imports airflow.
    os.environ.update(env)

    from airflow_provider_sync.testing.emulator import EmulatorProcess

    emulator_args = [
        "--api-key",
        API_KEY,
        "--render-seconds",
        str(args.render_seconds),
        "--media-dir",
        str(WORK / "emulator"),
    ]
    print(f"Starting the Runware emulator (render time {args.render_seconds:g} s) ...", flush=True)
    with EmulatorProcess(emulator_args) as emulator:
        print(f"Emulator at {emulator.base_url}", flush=True)
        os.environ.update(runware_conn_env(emulator.base_url, API_KEY))
        print(f"Creating a throwaway Airflow home in {home} ...", flush=True)
        migrate_db(env)
        result = run_dag(args.sync_mode, args.output_format)
    print_summary(result, time.monotonic() - started)
    return 0 if result.get("status") == "success" else 1


def run_dag(sync_mode: str, output_format: str) -> dict[str, object]:
    from airflow_provider_sync.testing.sandbox import load_dag, task_states, xcom_results

    output = WORK / "output" / f"lipsync-{sync_mode}.{output_format.lower()}"
    output.unlink(missing_ok=True)
    dag = load_dag(DAG_FILE)
    for task in dag.tasks:
        task.deferrable = True  # type: ignore[attr-defined]
    from airflow_provider_sync.testing.emulator.samples import ensure_samples

    # Local files: the operator uploads them first, as it would a clip from your own disk.
    # The short voice leaves room after it, so the sync mode's effect can be heard.
    samples = ensure_samples(WORK / "samples")
    conf = {
        "video": str(samples.video),
        "audio": str(samples.audio[0]),
        "sync_mode": sync_mode,
        "output_format": output_format,
        "poll_interval": 1,
        "output_path": str(output),
    }
    print(f"Running DAG {dag.dag_id} with conf {json.dumps(conf)}", flush=True)
    dag_run = dag.test(run_conf=conf)
    states = task_states(dag.dag_id, dag_run.run_id)
    results = xcom_results(dag.dag_id, dag_run.run_id)
    print(f"DAG run {dag_run.run_id}: {dag_run.state}; tasks: {states}", flush=True)
    return dict(results.get("lipsync") or {"status": str(dag_run.state)})


def print_summary(result: dict[str, object], wall: float) -> None:
    print("\n=== Result (XCom of task 'lipsync') ===")
    print(json.dumps(result, indent=2, default=str))
    path = result.get("output_path")
    if isinstance(path, str) and Path(path).exists():
        print(f"\nRendered video: {path}")
        try:
            from airflow_provider_sync.testing.emulator.render import make_contact_sheet, probe_media

            info = probe_media(Path(path))
            print(f"Duration: {info.duration:.2f} s (video {info.video_codec}, audio {info.audio_codec})")
            sheet = make_contact_sheet(Path(path), Path(path).with_suffix(".png"))
            print(f"Contact sheet: {sheet}")
        except ImportError:
            pass
    print(f"\nDemo wall time: {wall:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
