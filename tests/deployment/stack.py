"""A real Airflow deployment on loopback: API server, scheduler, DAG processor, triggerer.

LocalExecutor on a SQLite metadata DB in a temporary AIRFLOW_HOME. Every process is
started in its own session and killed (with its children) on :meth:`AirflowStack.stop`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from airflow_provider_sync.testing.sandbox import migrate_db, sandbox_env

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowStack:
    """Start with :meth:`start`; use as a context manager to be sure it stops."""

    def __init__(self, home: Path, dags_folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        airflow = Path(sys.executable).with_name("airflow")
        self.airflow = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
        self.env = {
            **os.environ,
            **sandbox_env(home, dags_folder),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__SIMPLE_AUTH_MANAGER__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    @property
    def db(self) -> Path:
        return self.home / "airflow.db"

    def start(self) -> AirflowStack:
        migrate_db({k: v for k, v in self.env.items() if k.startswith("AIRFLOW")})
        for name in COMPONENTS:
            args = [name, "--port", str(self.port)] if name == "api-server" else [name]
            log = (self.home / f"{name}.log").open("wb")
            self._logs[name] = log
            self.procs[name] = subprocess.Popen(
                [*self.airflow, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for_api()
        return self

    def _wait_for_api(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"api-server did not listen on {self.port}: {self.tail('api-server')}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def cli(self, *args: str, timeout: float = 120.0) -> str:
        out = subprocess.run(
            [*self.airflow, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed: {out.stderr[-2000:]}")
        return out.stdout

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the metadata DB directly (read-only; retried while a writer holds the lock)."""
        for _ in range(20):
            try:
                with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
                    return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                time.sleep(0.2)
        raise TimeoutError("metadata DB stayed locked")

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM dag WHERE dag_id = ? AND is_stale = 0", (dag_id,)):
                return
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed: {self.tail('dag-processor')}")

    def task_states(self, dag_id: str, run_id: str) -> Counter[str]:
        rows = self.query(
            "SELECT state, count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state",
            (dag_id, run_id),
        )
        return Counter({str(state): n for state, n in rows})

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return str(rows[0][0]) if rows else None

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Children (task supervisors, workers) too, whatever the parent did.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for log in self._logs.values():
            log.close()

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
