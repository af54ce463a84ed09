"""``make compat``: the unit tests and one example DAG on each tested Airflow x Python pair.

Each matrix entry gets its own venv under ``.compat/<entry>/``, the package (editable, with
the extra that brings the emulator) and the test tools installed with that entry's pinned
constraints (``constraints/airflow-<version>-py<python>.txt``), then runs

1. the unit tests that touch Airflow (``tests/compat tests/models tests/hooks tests/triggers
   tests/operators tests/media tests/properties``; no deployment, no slow tests; the
   emulator's own tests are left out, it does not import Airflow), and
2. one example DAG end to end: ``example_sync_lipsync`` deferred, with ``dag.test()``,
   against the local emulator, and
3. on the entries marked ``deployment`` (Airflow 2.11, whose scheduler and triggerer differ
   most from the 3.x of ``make test``), the quick deployment test: a real scheduler and
   triggerer with a LocalExecutor on SQLite run 20 deferred renders (``tests/deployment``).

It ends with a table of Airflow x Python, pass/fail and seconds, and exits non-zero if any
entry failed. Installs go through uv (installed from PyPI into ``.compat/_uv``): about ten
times faster than pip for Airflow's ~150 packages, which is what keeps CI's subset short.

    python scripts/compat.py                  # the whole matrix
    python scripts/compat.py floor,newest     # a subset: entry names or aliases (--list)
    python scripts/compat.py --refreeze 3.2   # re-resolve constraints (see below)

``--refreeze`` re-resolves an entry instead of reading its constraints: the newest versions
of everything that were on PyPI the day after that Airflow release (uv's
``--exclude-newer``, the way Airflow's own constraints are cut at release time), writes
``uv pip freeze`` of that venv to the constraints file, and runs the tests on it.
Resolving against today's PyPI is not an option: newer shared libraries break older
Airflows (Airflow 3.2.2 with pydantic 2.14 fails inside its own models).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".compat"
CONSTRAINTS = REPO / "constraints"
#: uv's version is pinned so the resolution (and --refreeze) is repeatable.
UV_VERSION = "0.13.9"

#: What the tests need besides the package and its emulator extra.
TEST_TOOLS = ["pytest", "pytest-asyncio", "pytest-timeout", "respx", "hypothesis"]
UNIT_TESTS = [
    "tests/compat",
    "tests/models",
    "tests/hooks",
    "tests/triggers",
    "tests/operators",
    "tests/media",
    "tests/properties",
]
DAG_TEST = (
    "tests/integration/test_example_dags.py::test_example_dag_runs_end_to_end[example_sync_lipsync-deferred]"
)
DEPLOYMENT_TESTS = "tests/deployment"
#: Per pytest run; a hung run fails its entry instead of the whole matrix.
RUN_TIMEOUT = 900


@dataclass(frozen=True)
class Entry:
    """One Airflow release on one Python."""

    airflow: str
    python: str
    #: Day after the release, UTC: the --refreeze resolution cut-off.
    cutoff: str
    aliases: tuple[str, ...] = ()
    #: Also run the deployment test (real scheduler and triggerer).
    deployment: bool = False

    @property
    def name(self) -> str:
        return f"airflow-{self.airflow}-py{self.python}"

    @property
    def constraints(self) -> Path:
        return CONSTRAINTS / f"{self.name}.txt"


# The floor (2.11.0), the first 3.x release that runs (3.0.2) and the newest patch release of
# each minor, each on the oldest and the newest Python that release supports within ours
# (>= 3.10): 2.11.x and 3.0.x declare Python < 3.13. The deployment test runs on the oldest
# and the newest 2.11 entry; make test runs it on 3.x.
MATRIX: list[Entry] = [
    Entry("2.11.0", "3.10", "2025-05-21", ("floor",), deployment=True),
    Entry("2.11.0", "3.12", "2025-05-21"),
    Entry("2.11.2", "3.10", "2026-03-15"),
    Entry("2.11.2", "3.12", "2026-03-15", deployment=True),
    Entry("3.0.2", "3.10", "2025-06-11"),
    Entry("3.0.2", "3.12", "2025-06-11"),
    Entry("3.0.6", "3.10", "2025-08-30"),
    Entry("3.0.6", "3.12", "2025-08-30"),
    Entry("3.1.8", "3.10", "2026-03-12"),
    Entry("3.1.8", "3.13", "2026-03-12"),
    Entry("3.2.2", "3.10", "2026-05-30"),
    Entry("3.2.2", "3.13", "2026-05-30"),
    Entry("3.3.2", "3.10", "2026-09-18"),
    # The newest release on every supported Python, so each has a tested constraints file.
    Entry("3.3.2", "3.11", "2026-09-18"),
    Entry("3.3.2", "3.12", "2026-09-18"),
    Entry("3.3.2", "3.13", "2026-09-18", ("newest",)),
]


@dataclass
class Result:
    entry: Entry
    steps: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(v == "pass" for v in self.steps.values())


def select(spec: str) -> list[Entry]:
    """Entries named by ``spec``: comma-separated names, aliases, ``all``, or a version prefix
    (``3.1`` is every 3.1 entry, ``py3.13`` every 3.13 one)."""
    if spec in ("", "all"):
        return list(MATRIX)
    chosen: list[Entry] = []
    for word in (w.strip() for w in spec.split(",")):
        hits = [
            e
            for e in MATRIX
            if word in (e.name, *e.aliases)
            or e.airflow.startswith(word)
            or word == f"py{e.python}"
            or e.name.startswith(f"airflow-{word}")
        ]
        if not hits:
            raise SystemExit(f"compat: no matrix entry matches {word!r} (see --list)")
        chosen += [e for e in hits if e not in chosen]
    return [e for e in MATRIX if e in chosen]  # matrix order


def find_python(version: str) -> str | None:
    """An interpreter for ``version``: ``pythonX.Y`` on PATH if it runs (a pyenv shim may
    not), else one of pyenv's installed versions."""
    exe = shutil.which(f"python{version}")
    if exe and _runs(exe):
        return exe
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        for cand in sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True):
            if _runs(cand):
                return cand
    return None


def _runs(exe: str) -> bool:
    try:
        return subprocess.run([exe, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_uv() -> Path:
    """uv in its own small venv under .compat/ (never the dev venv)."""
    venv = WORK / "_uv"
    uv = venv / "bin" / "uv"
    if uv.exists():
        return uv
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"],
        check=True,
    )
    return uv


def run_logged(cmd: Sequence[str], log: Path, env: dict[str, str], timeout: float) -> bool:
    """Run ``cmd`` in the repository, appending its output to ``log``; True if it exits 0."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            out.write(f"\ncompat: timed out after {timeout:.0f} s\n")
            return False
    return proc.returncode == 0


def clean_env() -> dict[str, str]:
    """The caller's environment without anything pointing at another venv or Airflow home."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "AIRFLOW_HOME", "UV_PROJECT_ENVIRONMENT")
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }


def test_extra() -> str:
    """The extra that brings the emulator: ``testing`` (the testing kit), or the older
    ``emulator``, whichever ``pyproject.toml`` declares."""
    text = (REPO / "pyproject.toml").read_text()
    return "testing" if re.search(r"^testing\s*=", text, re.M) else "emulator"


def unit_tests() -> list[str]:
    """The unit-test folders that exist (a missing path would stop pytest)."""
    return [d for d in UNIT_TESTS if (REPO / d).exists()]


def run_entry(entry: Entry, uv: Path, refreeze: bool) -> Result:
    result = Result(entry)
    started = time.monotonic()
    venv = WORK / entry.name
    log = WORK / f"{entry.name}.log"
    log.write_text(f"# {entry.name}\n")
    env = clean_env()
    try:
        python = find_python(entry.python)
        if python is None:
            result.steps["install"] = "fail"
            result.detail = f"no python{entry.python} found (PATH or pyenv)"
            return result
        if not refreeze and not entry.constraints.exists():
            result.steps["install"] = "fail"
            result.detail = f"{entry.constraints.relative_to(REPO)} missing (run with --refreeze)"
            return result

        # A fresh venv each run: leftovers from another constraints file would be tested
        # instead of the pins.
        shutil.rmtree(venv, ignore_errors=True)
        install = [str(uv), "pip", "install", "--python", str(venv / "bin" / "python")]
        if refreeze:
            install += ["--exclude-newer", f"{entry.cutoff}T00:00:00Z"]
        else:
            install += ["--constraint", str(entry.constraints)]
        # Never compile the emulator's native libraries: with a cut-off, the newest release
        # may have only its sdist before the cut-off (wheels came days later), and building
        # PyAV needs FFmpeg's headers. uv then picks the newest release with wheels.
        for native in ("av", "numpy", "pillow"):
            install += ["--only-binary", native]
        install += [f"apache-airflow=={entry.airflow}", "-e", f".[{test_extra()}]", *TEST_TOOLS]
        ok = run_logged([str(uv), "venv", "--quiet", "--python", python, str(venv)], log, env, 300)
        ok = ok and run_logged(install, log, env, 1200)
        result.steps["install"] = "pass" if ok else "fail"
        if not ok:
            return result
        if refreeze:
            write_constraints(entry, uv, venv, env)

        pytest = [str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"]
        unit = [*pytest, "-m", "not deployment and not slow", *unit_tests()]
        result.steps["unit"] = "pass" if run_logged(unit, log, env, RUN_TIMEOUT) else "fail"
        result.steps["dag"] = "pass" if run_logged([*pytest, DAG_TEST], log, env, RUN_TIMEOUT) else "fail"
        if entry.deployment:
            deploy = [*pytest, "-m", "deployment", DEPLOYMENT_TESTS]
            result.steps["deploy"] = "pass" if run_logged(deploy, log, env, RUN_TIMEOUT) else "fail"
        return result
    finally:
        result.seconds = time.monotonic() - started
        if not result.passed and not result.detail:
            result.detail = f"see {log.relative_to(REPO)}"


def write_constraints(entry: Entry, uv: Path, venv: Path, env: dict[str, str]) -> None:
    """Pin what was just installed (all but the package itself) as the entry's constraints."""
    freeze = subprocess.run(
        [str(uv), "pip", "freeze", "--exclude-editable", "--python", str(venv / "bin" / "python")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    CONSTRAINTS.mkdir(exist_ok=True)
    header = (
        f"# Airflow {entry.airflow} on Python {entry.python}: what `make compat` installs and tests.\n"
        f"# Generated by `python scripts/compat.py --refreeze {entry.name}`: resolved with\n"
        f"# uv --exclude-newer {entry.cutoff} (the day after the release), then frozen.\n"
    )
    entry.constraints.write_text(header + freeze)


def table(results: list[Result]) -> str:
    rows = [("Airflow", "Python", "install", "unit", "DAG", "deploy", "result", "seconds")]
    for r in results:
        rows.append(
            (
                r.entry.airflow + (f" ({', '.join(r.entry.aliases)})" if r.entry.aliases else ""),
                r.entry.python,
                r.steps.get("install", "-"),
                r.steps.get("unit", "-"),
                r.steps.get("dag", "-"),
                r.steps.get("deploy", "-"),
                "PASS" if r.passed else "FAIL",
                f"{r.seconds:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("entries", nargs="?", default="all", help="comma-separated entries or aliases")
    parser.add_argument("--list", action="store_true", help="print the matrix and exit")
    parser.add_argument("--refreeze", action="store_true", help="re-resolve and rewrite constraints")
    args = parser.parse_args()

    if args.list:
        for e in MATRIX:
            print(f"{e.name:28} {' '.join([*e.aliases, *(['+deployment'] if e.deployment else [])])}")
        return 0
    entries = select(args.entries)
    WORK.mkdir(exist_ok=True)
    uv = ensure_uv()
    results: list[Result] = []
    started = time.monotonic()
    for entry in entries:
        print(f"compat: {entry.name} ...", flush=True)
        result = run_entry(entry, uv, args.refreeze)
        results.append(result)
        status = "PASS" if result.passed else f"FAIL ({result.detail})"
        print(f"compat: {entry.name} {status} in {result.seconds:.0f} s", flush=True)
    print()
    print(table(results))
    failed = [r for r in results if not r.passed]
    print(f"\nmatrix run in {time.monotonic() - started:.0f} s")
    # Alone on its line, in the form CI's log reader counts.
    print(f"compat: {len(results) - len(failed)} passed, {len(failed)} failed")
    for r in failed:
        print(f"  {r.entry.name}: {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
