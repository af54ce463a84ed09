"""DAG-parse cost: how much importing the operators adds over importing ``airflow.sdk``.

Runs fresh interpreters (imports are cached per process) and reports medians::

    .venv/bin/python benchmarks/import_time.py [--runs 15]

Two baselines, because ``airflow.sdk`` imports lazily: ``import airflow.sdk`` alone (the
issue's yardstick) and ``from airflow.sdk import DAG, BaseOperator`` (what every DAG file
does anyway). Also lists the modules our import pulls in that the baseline did not, by
their own import time (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TARGET_MS = 30.0

PROBE = """
import time
t0 = time.perf_counter()
{baseline}
t1 = time.perf_counter()
import airflow_provider_sync.operators.sync
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""

BASELINES = {
    "import airflow.sdk": "import airflow.sdk",
    "from airflow.sdk import DAG, BaseOperator": "from airflow.sdk import DAG, BaseOperator",
}


def measure(baseline: str, runs: int) -> tuple[float, float]:
    base, added = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(baseline=baseline)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        base.append(float(out[0]))
        added.append(float(out[1]))
    return statistics.median(base), statistics.median(added)


def heaviest_added_modules(limit: int = 8) -> list[tuple[int, str]]:
    """Modules first imported by our import, by self time (microseconds)."""
    code = "import airflow.sdk; import airflow_provider_sync.operators.sync"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    ).stderr
    base_err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import airflow.sdk"], capture_output=True, text=True
    ).stderr
    base_modules = {line.split("|")[-1].strip() for line in base_err.splitlines() if "|" in line}
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if name not in base_modules:
            rows.append((int(self_us), name))
    return sorted(rows, reverse=True)[:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    worst = 0.0
    for label, baseline in BASELINES.items():
        base, added = measure(baseline, args.runs)
        worst = max(worst, added)
        print(f"baseline `{label}`: {base:7.1f} ms; operators add {added:6.1f} ms (median of {args.runs})")
    print("heaviest modules our import adds (self time):")
    for self_us, name in heaviest_added_modules():
        print(f"  {self_us / 1000:6.1f} ms  {name.strip()}")
    verdict = "OK" if worst <= TARGET_MS else "OVER TARGET"
    print(f"target: at most {TARGET_MS:.0f} ms added -> {verdict} (worst {worst:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
