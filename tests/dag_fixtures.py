"""Fixtures for DAG runs: the emulator on loopback and a helper that runs a DAG with dag.test().

Registered for the whole suite through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.testing.dags import DagResult
from airflow_provider_sync.testing.dags import run_dag as run_dag_once
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag, runware_conn_env

from .conftest import EXAMPLE_DAGS

API_KEY = "itest-key-7c1d9e"


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """One emulator for the integration session (metadata output: fast)."""
    media = tmp_path_factory.mktemp("emulator-media")
    with EmulatorServer(api_keys=[API_KEY], render_seconds=0.5, media_dir=media, output="metadata") as server:
        yield server


def wait_until_idle(server: EmulatorServer, timeout: float = 30.0) -> None:
    """Wait until every request the emulator received has been answered.

    A request an earlier test gave up on (a client timeout shorter than a ``slow`` fault) is
    still being answered, and is logged when it is: resetting before then would let it land
    in the next test's request log and job table. Bounded: a request that never ends fails
    the test that would have inherited it, saying so.
    """
    deadline = time.monotonic() + timeout
    while True:
        received = server.admin.stats()["requests"]
        logged = len(server.admin.requests())
        if received <= logged or logged >= LOG_LIMIT:  # past the log's limit it cannot tell
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{received - logged} emulator request(s) still unanswered after {timeout} s"
            )
        time.sleep(0.02)


#: The emulator's default request-log length (``EmulatorConfig.log_limit``).
LOG_LIMIT = 5000


def fresh(server: EmulatorServer) -> None:
    """Reset ``server`` once no earlier request is in flight (see :func:`wait_until_idle`)."""
    wait_until_idle(server)
    server.admin.reset()


@pytest.fixture
def emulator(emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator, reset, with ``runware_default`` pointing at it."""
    fresh(emulator_server)
    emulator_server.admin.configure(render_seconds=0.5, output="metadata", api_keys=[API_KEY])
    for name, value in runware_conn_env(emulator_server.base_url, API_KEY).items():
        monkeypatch.setenv(name, value)
    return emulator_server


RunDag = Callable[..., DagResult]


def asset_event_extras(name: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The extras of the events on the asset ``name`` (of one run's tasks, if ``run_id``).

    Airflow 2.11 calls assets datasets and names them by URI only.
    """
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.asset import AssetEvent, AssetModel

        event, by_name = AssetEvent, AssetModel.name == name
        joined = (AssetModel, AssetModel.id == AssetEvent.asset_id)
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetEvent, DatasetModel

        event, by_name = DatasetEvent, DatasetModel.uri == name
        joined = (DatasetModel, DatasetModel.id == DatasetEvent.dataset_id)
    query = select(event).join(*joined).where(by_name)
    if run_id is not None:
        query = query.where(event.source_run_id == run_id)
    with create_session() as session:
        return [dict(row.extra or {}) for row in session.scalars(query).all()]


@pytest.fixture
def run_dag(airflow_home: Path) -> RunDag:
    """Run an example DAG file with ``dag.test()``; ``deferrable`` forces the mode on every task."""

    def run(
        file: str, conf: dict[str, Any] | None = None, deferrable: bool | None = None, **kw: Any
    ) -> DagResult:
        dag = load_dag(EXAMPLE_DAGS / file)
        return run_dag_once(dag, {"poll_interval": 0.2, **(conf or {})}, deferrable=deferrable, **kw)

    return run


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Task UUIDs of every RunwareTaskTrigger that starts running (proves a task deferred)."""
    from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

    runs: list[str] = []
    original = RunwareTaskTrigger.run

    def counting_run(self: RunwareTaskTrigger) -> Any:
        runs.append(self.task_uuid)
        return original(self)

    monkeypatch.setattr(RunwareTaskTrigger, "run", counting_run)
    return runs


@pytest.fixture
def own_dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> Path:
    """A DAGs folder of the test's own: ``dag.test()`` runs only DAGs its bundle holds, so a
    DAG written by a test goes here (see :func:`write_dag`)."""
    from airflow import settings

    folder = tmp_path / "dags"
    folder.mkdir()
    # The default bundle reads Airflow's DAGs folder when dag.test() builds it.
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
    return folder


def write_dag(folder: Path, dag_id: str, body: str) -> Any:
    """Write a DAG file ``dag_id`` whose tasks are ``body`` (indented under ``with DAG``), load it."""
    import textwrap

    source = (
        "from datetime import datetime, timedelta\n\n"
        "try:\n    from airflow.sdk import DAG\n"
        "except ImportError:  # Airflow 2.11\n    from airflow import DAG\n\n"
        "from airflow_provider_sync.operators.sync import SyncLipsyncOperator\n\n"
        f"with DAG({dag_id!r}, schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
    )
    path = folder / f"{dag_id}.py"
    path.write_text(source)
    return load_dag(path, dag_id)


def task_log(home: Path, dag_id: str) -> str:
    """Every task log file a DAG's runs left under ``home``."""
    folder = home / "logs" / f"dag_id={dag_id}"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.log")))
