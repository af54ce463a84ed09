"""A throwaway Airflow home for running DAGs offline: used by ``make demo`` and the tests.

Airflow reads its configuration when it is first imported, so :func:`sandbox_env` must be
applied to ``os.environ`` (or a child process's environment) *before* ``airflow`` is
imported. ``dag.test()`` in Airflow 3 also needs the DAG file to live inside the configured
DAGs folder, because it registers the DAG bundle in the metadata database first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import DAG


def sandbox_env(home: Path, dags_folder: Path) -> dict[str, str]:
    """Environment variables for an isolated Airflow home with a SQLite metadata DB."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # Keep task logs inside the sandbox and readable by tests.
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


def runware_conn_env(base_url: str, api_key: str, conn_id: str = "runware_default") -> dict[str, str]:
    """An ``AIRFLOW_CONN_*`` variable defining a ``runware`` connection."""
    value = {"conn_type": "runware", "host": base_url, "password": api_key}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def migrate_db(env: dict[str, str]) -> None:
    """Create the sandbox's metadata DB (``airflow db migrate``) in a child process."""
    airflow = Path(sys.executable).with_name("airflow")
    cmd = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
    subprocess.run(
        [*cmd, "db", "migrate"],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
    )


def load_dag(dag_file: Path, dag_id: str | None = None) -> DAG:
    """Import a DAG file and return its DAG (the only one, or ``dag_id``)."""
    from airflow_provider_sync._compat import DAG

    name = f"sandbox_dag_{dag_file.stem}"
    spec = importlib.util.spec_from_file_location(name, dag_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {dag_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    dags = {d.dag_id: d for d in vars(module).values() if isinstance(d, DAG)}
    if dag_id is not None:
        return dags[dag_id]
    if len(dags) != 1:
        raise LookupError(f"{dag_file} holds {len(dags)} DAGs; pass dag_id")
    return next(iter(dags.values()))


def xcom_results(dag_id: str, run_id: str, key: str = "return_value") -> dict[str, Any]:
    """XCom values of one run, by task id (a list by map index for mapped tasks)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_sync._compat import XComModel

    out: dict[str, Any] = {}
    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == key
            )
        ).all()
    for task_id, map_index, value in sorted(rows, key=lambda r: (r[0], r[1])):
        value = XComModel.deserialize_value(_Row(value))
        if map_index >= 0:
            out.setdefault(task_id, []).append(value)
        else:
            out[task_id] = value
    return out


class _Row:
    """The shape :meth:`XComModel.deserialize_value` reads (an object with ``.value``)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    """Final state of each task instance (``task_id`` or ``task_id[map_index]``)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {(t if m < 0 else f"{t}[{m}]"): str(s) for t, m, s in rows}
