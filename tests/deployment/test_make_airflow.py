"""``make airflow``, run headless as a user would: it prints the UI's URL and a login that
works, an example DAG triggered through the REST API defers and succeeds against the
emulator, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from airflow_provider_sync.testing.emulator import EmulatorAdmin

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_sync_lipsync"


class Console:
    """What the command prints, read in a thread so it never blocks on a full pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text, re.M)
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never printed {pattern!r}; it printed:\n{self.text}")
            time.sleep(0.5)


def _descendants(pid: int) -> dict[int, float]:
    """Every process under ``pid``, with its start time (a pid alone may be reused)."""
    out = {}
    try:
        for p in psutil.Process(pid).children(recursive=True):
            try:
                out[p.pid] = p.create_time()
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        pass
    return out


def _still_running(seen: dict[int, float]) -> list[str]:
    alive = []
    for pid, started in seen.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == started and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_for_run(api: httpx.Client, run_id: str, seen: dict[int, float], pid: int) -> tuple[str, set[str]]:
    """The run's final state and every state its task was seen in."""
    states: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        seen.update(_descendants(pid))
        tis = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        states |= {str(t["state"]) for t in tis}
        run = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()
        if run["state"] in ("success", "failed"):
            return str(run["state"]), states
        time.sleep(0.5)
    raise AssertionError(f"the run did not end; task states seen: {states}")


def test_make_airflow_shows_an_example_defer_and_succeed_then_ctrl_c_stops_everything(tmp_path: Path) -> None:
    args = f"--home {tmp_path / 'home'} --port 0 --render-seconds 4 --output metadata"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "airflow", f"AIRFLOW_ARGS={args}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        env={k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAKE"))},
    )
    console = Console(proc)
    seen: dict[int, float] = {}
    try:
        url = console.wait_for(r"^Airflow is up in \d+ s: (http://127\.0\.0\.1:\d+)$", 420)[1]
        user, password = console.wait_for(r"^Login: (\S+) / (\S+)$", 10).groups()
        emulator = console.wait_for(r"^Emulator: (http://127\.0\.0\.1:\d+)/v1", 10)[1]
        console.wait_for(r"^Press Ctrl-C to stop everything\.$", 10)
        seen.update(_descendants(proc.pid))

        # The login it printed is the one the UI takes.
        token = httpx.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=60)
        assert token.status_code == 201, token.text
        wrong = httpx.post(f"{url}/auth/token", json={"username": user, "password": "x"}, timeout=60)
        assert wrong.status_code == 401
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            deadline = time.monotonic() + 180
            while api.get(f"/api/v2/dags/{DAG_ID}").status_code != 200:
                assert time.monotonic() < deadline, "the example DAG was not parsed"
                time.sleep(1)
            created = api.post(
                f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"poll_interval": 1}}
            )
            assert created.status_code == 200, created.text
            run_id = created.json()["dag_run_id"]
            state, states = _wait_for_run(api, run_id, seen, proc.pid)
            assert state == "success", states
            assert "deferred" in states  # it waited in the triggerer, not in a worker slot
            xcom = api.get(
                f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/lipsync/xcomEntries/return_value"
            ).json()["value"]
        # One paid job, on the emulator the printed connection points at.
        assert EmulatorAdmin(emulator).submissions() == [xcom["task_uuid"]]
        seen.update(_descendants(proc.pid))
    finally:
        # Ctrl-C in a terminal: SIGINT to the foreground process group (make and its child).
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    assert "Stopped: no process left running." in console.text, console.text
    assert len(seen) >= 5  # the emulator and the four Airflow components at least
    assert _still_running(seen) == []
