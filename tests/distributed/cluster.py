"""A distributed Airflow deployment on loopback: PostgreSQL, CeleryExecutor, N triggerers.

Builds on :class:`tests.deployment.stack.AirflowStack` (API server, scheduler, DAG
processor) and adds what a production deployment has and the SQLite one lacks:

* the metadata database on PostgreSQL (:class:`~tests.distributed.postgres.PostgresServer`);
* CeleryExecutor with real ``airflow celery worker`` processes, the broker being Celery's
  SQLAlchemy transport on the same PostgreSQL server (``sqla+postgresql://``): a real broker
  that needs no server of its own, where Redis would need a binary PyPI does not ship;
* any number of triggerers, each a real ``airflow triggerer`` process.

Every process runs in its own session. :meth:`DistributedStack.kill` sends SIGKILL to a
component's whole process tree (a crash, not a shutdown); :meth:`DistributedStack.stop`
ends every process ever started, dead components' orphans included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from airflow_provider_sync.testing.sandbox import migrate_db
from tests.deployment.stack import AirflowStack

#: Settings that make failure detection quick enough for a test, and the Celery pool fair.
FAST_FAILOVER = {
    # A triggerer whose heartbeat is older than the threshold is presumed dead and its
    # triggers go to a live one; the default (30 s of a 5 s heartbeat) would make the test
    # wait half a minute for nothing.
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    # A running task whose worker died stops heartbeating; after this long it is failed
    # (and retried). Default 300 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "25",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # The task supervisor waits this long in select() between heartbeats. When the task
    # process closes its sockets a moment before it can be reaped, the supervisor notices the
    # exit only at the end of that wait: 5 s (the default) of every Celery slot's time per
    # task, whatever the operator does. Measured here: 6 s per deferring task instead of 1 s.
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    # The SQLAlchemy broker is polled, once a second (kombu passes every transport option
    # to create_engine, so the interval can't be lowered): a worker that fetched only as
    # many messages as it has processes waits up to a second after each task for the next.
    # Two per process keep the next task at hand. Prefetched messages are not running
    # tasks: the slots stay two.
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "2",
    # Each component keeps a small pool: a dozen processes share one PostgreSQL.
    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "10",
}


class DistributedStack(AirflowStack):
    """API server, scheduler and DAG processor, plus Celery workers and triggerers on demand."""

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        db_url: str,
        broker_url: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            **FAST_FAILOVER,
            **(extra_env or {}),
        }
        super().__init__(home, dags_folder, env)
        self.db_url = db_url
        self.killed: set[str] = set()
        self.stopped: set[str] = set()
        #: Triggerer component name -> its job id (the ``trigger.triggerer_id`` it writes).
        self.triggerer_ids: dict[str, int] = {}
        self._seen: set[int] = set()  # every pid ever seen under a component
        self._conn: Any = None
        self._count: dict[str, int] = {}

    # ------------------------------------------------------------------ processes

    def start(self) -> DistributedStack:
        migrate_db({k: v for k, v in self.env.items() if k.startswith("AIRFLOW")})
        self.spawn("api-server", ["api-server", "--port", str(self.port)])
        self.spawn("scheduler", ["scheduler"])
        self.spawn("dag-processor", ["dag-processor"])
        self.wait_for_api()
        return self

    def __enter__(self) -> DistributedStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.home / f"{name}.log").open("wb")
        self._logs[name] = log
        proc = subprocess.Popen(
            [*self.airflow, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        self._seen.add(proc.pid)
        return proc

    def _next_name(self, kind: str) -> str:
        self._count[kind] = self._count.get(kind, 0) + 1
        return f"{kind}-{self._count[kind]}"

    def alive(self, kind: str) -> list[str]:
        """Names of the live components of a kind (``triggerer``, ``worker``), oldest first."""
        return [
            n
            for n, p in self.procs.items()
            if n.startswith(f"{kind}-") and n not in self.killed | self.stopped and p.poll() is None
        ]

    def add_triggerer(self, timeout: float = 120.0) -> str:
        """Start a triggerer and wait for its job row: its id names it in ``trigger.triggerer_id``."""
        name = self._next_name("triggerer")
        before = {row[0] for row in self.query("SELECT id FROM job WHERE job_type = 'TriggererJob'")}
        # No log server: two of them on one host would fight over its fixed port.
        self.spawn(name, ["triggerer", "--skip-serve-logs", "--pid", str(self.home / f"{name}.pid")])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            rows = self.query(
                "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
                "AND latest_heartbeat IS NOT NULL"
            )
            new = sorted({r[0] for r in rows} - before)
            if new:
                self.triggerer_ids[name] = int(new[0])
                return name
            time.sleep(0.5)
        raise TimeoutError(f"{name} registered no job: {self.tail(name)}")

    def add_worker(self, concurrency: int = 2, timeout: float = 120.0) -> str:
        """Start ``airflow celery worker`` and wait until Celery says it is ready."""
        name = self._next_name("worker")
        args = ["celery", "worker", "--concurrency", str(concurrency), "--celery-hostname", f"{name}@%h"]
        args += ["--pid", str(self.home / f"{name}.pid"), "--skip-serve-logs"]
        args += ["--without-mingle", "--without-gossip"]
        self.spawn(name, args)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if " ready." in self.tail(name, 200):
                return name
            time.sleep(0.5)
        raise TimeoutError(f"{name} did not get ready: {self.tail(name)}")

    def ensure(self, kind: str, count: int) -> list[str]:
        """Exactly ``count`` live components of ``kind``: start missing ones, stop extra ones."""
        add = self.add_triggerer if kind == "triggerer" else self.add_worker
        while len(self.alive(kind)) < count:
            add()
        for name in self.alive(kind)[count:]:
            self.terminate(name)
        return self.alive(kind)

    def tree(self, name: str) -> list[psutil.Process]:
        """A component's process and all its descendants (task runners, pool processes)."""
        try:
            root = psutil.Process(self.procs[name].pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self, name: str) -> list[int]:
        """SIGKILL a component's whole process tree at once, as a crashed machine would."""
        self.killed.add(name)
        return self._signal_tree(name, signal.SIGKILL)

    def terminate(self, name: str, timeout: float = 30.0) -> None:
        """Stop a component the polite way (SIGTERM), then for sure."""
        self.stopped.add(name)
        self._signal_tree(name, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs[name].wait(timeout=timeout)
        self._signal_tree(name, signal.SIGKILL)

    def _signal_tree(self, name: str, sig: signal.Signals) -> list[int]:
        procs = self.tree(name)
        self._seen.update(p.pid for p in procs)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)
        for p in procs:  # descendants that left the process group, if any
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(sig)
        if sig == signal.SIGKILL:
            psutil.wait_procs(procs, timeout=10)
            self.procs[name].wait(timeout=10)
        return [p.pid for p in procs]

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if name not in self.killed | self.stopped and proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{self.tail(name)}")

    def stop(self) -> None:
        # Note every descendant first: once a parent is gone its children are re-parented and
        # can no longer be found from it.
        for name in self.procs:
            self._seen.update(p.pid for p in self.tree(name))
        super().stop()
        for pid in self._seen:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc = psutil.Process(pid)
                # Only what we started: a recycled pid would belong to someone else.
                if proc.environ().get("AIRFLOW_HOME") == str(self.home):
                    proc.kill()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ metadata DB

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the metadata DB (PostgreSQL). ``?`` placeholders, as for the SQLite stack."""
        import psycopg2

        for attempt in range(3):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self.db_url.replace("+psycopg2", ""), connect_timeout=10)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(sql.replace("?", "%s"), params)
                    return list(cur.fetchall())
            except psycopg2.OperationalError:
                self._conn = None
                if attempt == 2:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM dag WHERE dag_id = ? AND NOT is_stale", (dag_id,)):
                return
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed: {self.tail('dag-processor')}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait until a run ends; its final state (raises if it does not end in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        raise TimeoutError(f"run {dag_id}/{run_id} still {self.run_state(dag_id, run_id)} after {timeout} s")

    def trigger_assignment(self, dag_id: str, run_id: str) -> dict[int, int]:
        """For each trigger of the run still waiting: trigger id -> triggerer job id (0 = none)."""
        rows = self.query(
            "SELECT t.id, t.triggerer_id FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = ? AND ti.run_id = ?",
            (dag_id, run_id),
        )
        return {int(t): int(j or 0) for t, j in rows}

    def run_times(self, dag_id: str, run_id: str) -> tuple[float, float] | None:
        """(queued_at, end_date) of a finished run, as epoch seconds."""
        rows = self.query(
            "SELECT queued_at, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        )
        if not rows or rows[0][1] is None:
            return None
        return rows[0][0].timestamp(), rows[0][1].timestamp()
