"""A real Airflow deployment on loopback: API server, scheduler, DAG processor, triggerer.

:class:`~airflow_provider_sync.testing.local_airflow.LocalAirflow` (what ``make airflow``
runs) with the settings a test wants -- no login, fast heartbeats, DAGs unpaused -- and
helpers that read the metadata DB. Every process is killed, with its children, on
:meth:`AirflowStack.stop`.

On Airflow 2.11 the deployment is a scheduler (which parses the DAGs itself) and a
triggerer: tasks run without an API server there, and the webserver is only the UI.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from airflow_provider_sync.testing.local_airflow import COMPONENTS, LocalAirflow, free_port

__all__ = ["COMPONENTS", "AirflowStack", "free_port"]

#: Faster than Airflow's defaults, so a test waits seconds, not minutes, for each step.
TEST_SETTINGS = {
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}

#: Airflow 3's Task SDK; 2.11 has none, and runs tasks without an API server.
AIRFLOW_3 = importlib.util.find_spec("airflow.sdk") is not None
AIRFLOW_2_COMPONENTS = ("scheduler", "triggerer")
#: Airflow 2.11: the scheduler parses the DAGs (3.x: the DAG processor), and only
#: single-threaded executors pass its SQLite check, which Airflow's own tests lift this way
#: (SQLite serves a LocalExecutor of 2 slots here as it does on 3.x). Its scheduler idles a
#: second between loops and re-parses the DAG file every few seconds by default; on a busy
#: machine that paces 40 task runs (start and resume) on 2 slots more than the renders do.
AIRFLOW_2_SETTINGS = {
    "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "60",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    "AIRFLOW__SCHEDULER__SCHEDULE_AFTER_TASK_EXECUTION": "False",
    "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
}


class AirflowStack(LocalAirflow):
    """Start with :meth:`start`; use as a context manager to be sure it stops."""

    def __init__(self, home: Path, dags_folder: Path, extra_env: dict[str, str] | None = None) -> None:
        settings = TEST_SETTINGS if AIRFLOW_3 else {**TEST_SETTINGS, **AIRFLOW_2_SETTINGS}
        super().__init__(home, dags_folder, env={**settings, **(extra_env or {})}, all_admins=True)

    def start(self, timeout: float = 180.0, *, migrate: bool = True) -> AirflowStack:
        if AIRFLOW_3:
            super().start(timeout, migrate=migrate)
            return self
        if migrate:
            self.migrate()
        for name in AIRFLOW_2_COMPONENTS:  # no API server to wait for
            self._launch(name)
        return self

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
            if self.query(f"SELECT 1 FROM dag WHERE dag_id = ? AND {self._parsed}", (dag_id,)):
                return
            time.sleep(1)
        parser = "dag-processor" if AIRFLOW_3 else "scheduler"
        raise TimeoutError(f"DAG {dag_id} was not parsed: {self.tail(parser)}")

    #: A DAG the parser has seen in its file (2.11 marks the others inactive).
    _parsed = "is_stale = 0" if AIRFLOW_3 else "is_active = 1"

    def task_states(self, dag_id: str, run_id: str) -> Counter[str]:
        rows = self.query(
            "SELECT state, count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? GROUP BY state",
            (dag_id, run_id),
        )
        return Counter({str(state): n for state, n in rows})

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return str(rows[0][0]) if rows else None
