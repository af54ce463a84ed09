"""One distributed deployment shared by the suite (``make test-distributed``).

Starting PostgreSQL, migrating it and starting Airflow's components takes a minute on two
cores, so the scenarios share a deployment. Each scenario asks for the workers and
triggerers it needs (:meth:`DistributedStack.ensure`) and resets the emulator, so they do not
depend on their order.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from airflow_provider_sync.testing.emulator import EmulatorAdmin, EmulatorProcess

from .cluster import DistributedStack
from .postgres import PostgresServer

API_KEY = "distributed-test-key-5c1e"

#: Shared by the DAGs below: a media UUID the emulator knows.
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def renders_dag(dag_id: str, tasks: int) -> str:
    """A DAG of ``tasks`` independent deferred lip-sync renders."""
    return textwrap.dedent(
        f'''
        from datetime import datetime

        from airflow.sdk import DAG

        from airflow_provider_sync.operators.sync import SyncLipsyncOperator

        with DAG("{dag_id}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
            for n in range({tasks}):
                SyncLipsyncOperator(
                    task_id=f"clip_{{n:02d}}",
                    video="{VIDEO}",
                    audio=f"https://cdn.example.com/{dag_id}-{{n}}.wav",
                    deferrable=True,
                    poll_interval=2,
                )
        '''
    )


def crash_dag(dag_id: str, hold_file: Path) -> str:
    """One render whose first try stops between submitting and deferring.

    The subclass exists only in this test DAG: on try 1 it writes its pid to ``hold_file``
    and sleeps where the operator would defer, so the test can kill the Celery worker at
    exactly the moment the job is paid for but no trigger records it. Later tries defer
    as usual. The product code is untouched.
    """
    return textwrap.dedent(
        f'''
        import os
        import time
        from datetime import datetime, timedelta

        from airflow.sdk import DAG, get_current_context

        from airflow_provider_sync.operators.sync import SyncLipsyncOperator


        class HoldBeforeDeferOnFirstTry(SyncLipsyncOperator):
            def defer(self, **kwargs):
                if get_current_context()["ti"].try_number == 1:
                    with open({str(hold_file)!r}, "w") as f:
                        f.write(str(os.getpid()))
                    time.sleep(3600)
                super().defer(**kwargs)


        with DAG("{dag_id}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
            HoldBeforeDeferOnFirstTry(
                task_id="render",
                video="{VIDEO}",
                audio="https://cdn.example.com/{dag_id}.wav",
                deferrable=True,
                poll_interval=2,
                retries=1,
                retry_delay=timedelta(seconds=1),
            )
        '''
    )


WARMUP_DAG_TEXT = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.sdk import DAG, task

    with DAG("distributed_warmup", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):

        @task
        def noop() -> None:
            pass

        for n in range(2):
            noop.override(task_id=f"warm_{n}")()
    """
)

WARMUP_DAG = "distributed_warmup"
SLOTS_DAG = "distributed_slots"
FAILOVER_DAG = "distributed_triggerer_failover"
CRASH_DAG = "distributed_worker_crash"
SLOTS_TASKS = 20
FAILOVER_TASKS = 40


@dataclass
class Cluster:
    stack: DistributedStack
    emulator: EmulatorProcess
    work: Path

    @property
    def admin(self) -> EmulatorAdmin:
        return self.emulator.admin

    @property
    def hold_file(self) -> Path:
        return self.work / "held.pid"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    # Not pytest's tmp_path: PostgreSQL runs as nobody under root, and needs to reach it.
    work = Path(tempfile.mkdtemp(prefix="sync-distributed-"))
    work.chmod(0o755)
    dags = work / "dags"
    dags.mkdir()
    (dags / "slots.py").write_text(renders_dag(SLOTS_DAG, SLOTS_TASKS))
    (dags / "failover.py").write_text(renders_dag(FAILOVER_DAG, FAILOVER_TASKS))
    hold_file = work / "held.pid"
    (dags / "crash.py").write_text(crash_dag(CRASH_DAG, hold_file))
    (dags / "warmup.py").write_text(WARMUP_DAG_TEXT)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        postgres = cleanup.enter_context(PostgresServer(work / "postgres"))
        db_url = postgres.create_database("airflow")
        broker_url = "sqla+" + postgres.create_database("celery_broker")
        emulator = cleanup.enter_context(
            EmulatorProcess(["--api-key", API_KEY, "--render-seconds", "20", "--output", "metadata"])
        )
        # Counting submissions needs the whole request log of a scenario.
        with contextlib.suppress(httpx.HTTPStatusError):
            emulator.admin.configure(log_limit=1_000_000)
        conn = {"conn_type": "runware", "host": emulator.base_url, "password": API_KEY}
        stack = DistributedStack(
            work / "airflow",
            dags,
            db_url,
            broker_url,
            {"AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(conn)},
        )
        cleanup.enter_context(stack)
        for dag_id in (WARMUP_DAG, SLOTS_DAG, FAILOVER_DAG, CRASH_DAG):
            stack.wait_for_dag(dag_id)
        stack.ensure("worker", 1)
        stack.ensure("triggerer", 2)
        # A deployment that has run a task before, as any production one has: the API
        # server's first request and a fresh Celery process's first task pay one-off start-up
        # costs (5-10 s on two busy cores) that are not what the scenarios measure.
        stack.cli("dags", "trigger", WARMUP_DAG, "--run-id", "warmup")
        stack.wait_for_run(WARMUP_DAG, "warmup", timeout=180)
        yield Cluster(stack, emulator, work)
