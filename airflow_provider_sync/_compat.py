"""Airflow names that moved between Airflow releases, imported from one place.

The provider supports Airflow 2.11 and every Airflow 3 minor from 3.0.2 on (the floor in
``pyproject.toml``). Its modules import the names below from here; each is taken from its
newest location first and from the older ones where that fails, so a name's import never
depends on the release, and nothing else in the package checks Airflow's version. The way
Airflow's own ``common.compat`` provider does it.

Measured by importing each location on 2.11.0, 2.11.2, 3.0.0 to 3.0.4, 3.0.6, 3.1.0, 3.1.8,
3.2.2 and 3.3.2 (``docs/compatibility.md`` has the tested matrix):

* ``Asset``: ``airflow.sdk`` since 3.0; on 2.11 it is ``airflow.datasets.Dataset`` (renamed
  in 3.0).
* ``BaseOperator``, ``BaseOperatorLink``, ``Connection``, ``DAG``, ``ObjectStoragePath``:
  ``airflow.sdk`` since 3.0; on 2.11 ``airflow.models.baseoperator``,
  ``airflow.models.baseoperatorlink``, ``airflow.models.connection``, ``airflow.models.dag``
  and ``airflow.io.path``.
* ``XCom`` (what an extra link reads): ``airflow.sdk.execution_time.xcom`` since 3.0; on 2.11
  ``airflow.models.xcom``.
* ``XComModel`` (the metadata table, read by the testing kit): ``airflow.models.xcom.XComModel``
  since 3.0; on 2.11 the table's model is ``airflow.models.xcom.XCom``.
* ``conf``: ``airflow.sdk`` since 3.2; before, ``airflow.configuration``.
* ``AirflowException``: ``airflow.sdk.exceptions`` since 3.1; before, ``airflow.exceptions``.
* ``AirflowFailException``, ``TaskDeferred``: ``airflow.sdk.exceptions`` since 3.2; before,
  ``airflow.exceptions``.
* ``BaseHook``: ``airflow.sdk`` since 3.1; before, ``airflow.hooks.base``.
* ``BaseHook.aget_connection``: added in 3.1, and masks the connection's secrets without
  blocking the event loop only since 3.3.2; before 3.3.2 (2.11 included) the lookup runs in a
  worker thread.
* ``mask_secret``: ``airflow.sdk.log`` since a 3.0 patch release after 3.0.4 (3.0.6 has
  it); 3.0.0 to 3.0.4, ``airflow.sdk.execution_time.secrets_masker``; 2.11,
  ``airflow.utils.log.secrets_masker``.
* ``redact`` (used by tests): ``airflow.sdk._shared.secrets_masker.secrets_masker`` since 3.1;
  3.0, ``airflow.sdk.execution_time.secrets_masker``; 2.11, ``airflow.utils.log.secrets_masker``.
* ``ObjectStoragePath`` is a ``pathlib.Path`` subclass up to 3.1 (universal-pathlib < 0.3;
  2.11 too) and not from 3.2: :func:`is_local_path` tells a local file from object storage on
  all of them.
* ``BaseTrigger``, ``TriggerEvent``: ``airflow.triggers.base`` on 2.11 and every 3.x minor up
  to 3.3 (not yet in the Task SDK); re-exported here so a future move is a one-line change.
* ``BaseSensorOperator``, ``PokeReturnValue``: ``airflow.sdk`` since 3.0; before (Airflow 2),
  ``airflow.sensors.base``.
* ``AirflowSensorTimeout``, ``AirflowSkipException``, ``AirflowTaskTimeout``:
  ``airflow.sdk.exceptions`` since 3.2, the classes its task runner and sensors catch; before,
  ``airflow.exceptions`` (read in the Task SDK wheels 1.0.6, 1.1.8 and 1.2.2).

The exception classes matter beyond their import: up to 3.1 the task runner catches
``airflow.exceptions.TaskDeferred`` and ``AirflowFailException``, which are different
classes from the Task SDK's later ones, so raising the right one is what makes a task defer
or fail without retries on every release.

Type checking sees the newest location only (the dev venv runs the newest release).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.models.xcom import XComModel
    from airflow.sdk import (
        DAG,
        Asset,
        BaseHook,
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
        Connection,
        ObjectStoragePath,
        PokeReturnValue,
        conf,
    )
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
        TaskDeferralError,
        TaskDeferred,
    )
    from airflow.sdk.execution_time.xcom import XCom
    from airflow.sdk.log import mask_secret
    from airflow.triggers.base import BaseTrigger, TriggerEvent

#: Where each name lives, newest first: ``module`` or ``module:attribute`` where the name
#: differs. Names are resolved on first use (PEP 562), so importing a module of the provider
#: costs no more than importing what it really uses: DAG files import the operators, and they
#: must not pay for the triggerer's imports.
_LOCATIONS: dict[str, tuple[str, ...]] = {
    # 3.0: the Task SDK; 2.11: Airflow's core modules (Asset was Dataset).
    "Asset": ("airflow.sdk", "airflow.datasets:Dataset"),
    "BaseOperator": ("airflow.sdk", "airflow.models.baseoperator"),
    "BaseOperatorLink": ("airflow.sdk", "airflow.models.baseoperatorlink"),
    "Connection": ("airflow.sdk", "airflow.models.connection"),
    "DAG": ("airflow.sdk", "airflow.models.dag"),
    "ObjectStoragePath": ("airflow.sdk", "airflow.io.path"),
    "XCom": ("airflow.sdk.execution_time.xcom", "airflow.models.xcom"),
    "XComModel": ("airflow.models.xcom", "airflow.models.xcom:XCom"),
    # 3.2 / 3.1: moved into the Task SDK.
    "conf": ("airflow.sdk", "airflow.configuration"),
    "AirflowException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "TaskDeferred": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSensorTimeout": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowSkipException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowTaskTimeout": ("airflow.sdk.exceptions", "airflow.exceptions"),
    # What resuming a deferral Airflow ended (a trigger timeout) raises; 2.11's sensors pass it
    # on as it is, 3.x's turn it into AirflowSensorTimeout.
    "TaskDeferralError": ("airflow.sdk.exceptions", "airflow.exceptions"),
    # 3.0: the Task SDK; 2.11: airflow.sensors.base.
    "BaseSensorOperator": ("airflow.sdk", "airflow.sensors.base"),
    "PokeReturnValue": ("airflow.sdk", "airflow.sensors.base"),
    "_AirflowBaseHook": ("airflow.sdk:BaseHook", "airflow.hooks.base:BaseHook"),
    # 3.0.6 / 3.1 / 3.0 / 2.11.
    "mask_secret": (
        "airflow.sdk.log",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    ),
    "redact": (
        "airflow.sdk._shared.secrets_masker.secrets_masker",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    ),
    # 3.3.2: masks from a coroutine; none before.
    "_AirflowAmaskSecret": ("airflow.sdk.log:amask_secret",),
    # The same module on 2.11 and every 3.x so far.
    "BaseTrigger": ("airflow.triggers.base",),
    "TriggerEvent": ("airflow.triggers.base",),
}


@functools.cache  # a failed import is not cached by Python: look each name up once
def _resolve(name: str) -> Any:
    for location in _LOCATIONS[name]:
        module, _, attr = location.partition(":")
        try:
            return getattr(importlib.import_module(module), attr or name)
        except (ImportError, AttributeError):  # not in this release: try the older location
            continue
    raise ImportError(f"cannot import {name!r} from any of {', '.join(_LOCATIONS[name])}")


def _base_hook() -> type:
    """Airflow's ``BaseHook``, given a non-blocking ``aget_connection`` where it lacks one.

    2.11 and 3.0 have no ``aget_connection``. From 3.1 up to 3.3.1 Airflow's masks the connection's
    secrets with a synchronous call to the supervisor, which raises ``DeadlockImminentError``
    while another trigger's request is in flight on the triggerer's loop; 3.3.2 made that
    masking asynchronous and added ``Connection.aextra_dejson`` with it (the same test
    Airflow's common-compat provider uses).
    """
    base: type = _resolve("_AirflowBaseHook")
    if hasattr(base, "aget_connection") and hasattr(_resolve("Connection"), "aextra_dejson"):
        return base

    class BaseHook(base):
        """Airflow's ``BaseHook`` with an ``aget_connection`` that never blocks the loop."""

        @classmethod
        async def aget_connection(cls, conn_id: str) -> Any:
            # The synchronous lookup may block on the supervisor or a secrets backend; a
            # worker thread keeps the triggerer's event loop (and every other trigger on it)
            # running meanwhile. to_thread copies the context, as sync_to_async does.
            return await asyncio.to_thread(cls.get_connection, conn_id)

    BaseHook.__module__ = __name__
    return BaseHook


async def amask_secret(secret: str) -> None:
    """Register ``secret`` with the masker from a coroutine, without blocking the loop.

    3.3.2 has ``airflow.sdk.log.amask_secret`` (it tells the supervisor with ``asend``); before
    it, ``mask_secret`` talks to the supervisor synchronously, so it runs in a worker thread,
    as the connection lookup does.
    """
    try:
        airflow_amask_secret = _resolve("_AirflowAmaskSecret")
    except ImportError:
        await asyncio.to_thread(_resolve("mask_secret"), secret)
    else:
        await airflow_amask_secret(secret)


async def aextra_dejson(conn: Any) -> dict[str, Any]:
    """A connection's extras, parsed without blocking the loop.

    ``extra_dejson`` registers the extras with the masker synchronously (a call to the
    supervisor); 3.3.2 added ``aextra_dejson``, before it the parse runs in a worker thread.
    """
    if hasattr(conn, "aextra_dejson"):
        return dict(await conn.aextra_dejson())
    return dict(await asyncio.to_thread(lambda: conn.extra_dejson))


def _dags_beside(dag: Any) -> list[Any]:
    """``dag`` and the other DAGs of the module that defined it."""
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == dag.fileloc:
            found = [value for value in vars(module).values() if isinstance(value, type(dag))]
            if any(found_dag is dag for found_dag in found):
                return found
    return [dag]


def dag_test(dag: Any, **kwargs: Any) -> Any:
    """``dag.test(**kwargs)`` as 3.x runs it, on every release.

    3.0 renamed ``execution_date`` to ``logical_date`` and added ``run_after``; on 2.11 a
    ``logical_date`` is passed as ``execution_date``, and ``run_after`` (when a run may start,
    which 2.11 ties to the logical date) is left out.

    3.x's ``dag.test()`` first writes the DAGs of its bundle, with their assets, to the
    metadata database; 2.11's writes nothing, and then drops the events of datasets it does
    not find ("DatasetModel ... not found"). There the DAG and the DAGs defined beside it
    (which may be the ones scheduled on its datasets) are written first. 2.11's
    ``dag_run_note`` table also refers to the auth manager's user table, which only the
    webserver loads; without it, replacing an earlier run of the same date fails.
    """
    if hasattr(dag, "sync_to_db"):  # 2.11's DAG; the Task SDK's (3.0) has no such method
        with contextlib.suppress(ImportError):
            _resolve("conf").getimport("core", "auth_manager")
        type(dag).bulk_write_to_db(_dags_beside(dag))
    accepted = inspect.signature(dag.test).parameters
    if "logical_date" in kwargs and "logical_date" not in accepted:
        kwargs["execution_date"] = kwargs.pop("logical_date")
    if "run_after" in kwargs and "run_after" not in accepted:
        del kwargs["run_after"]
    return dag.test(**kwargs)


def __getattr__(name: str) -> Any:
    if name == "BaseHook":
        value = _base_hook()
    elif name in _LOCATIONS and not name.startswith("_"):
        value = _resolve(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def is_local_path(path: object) -> bool:
    """Whether ``path`` is a local file path rather than an ``ObjectStoragePath``.

    ``isinstance(path, Path)`` alone is not enough: up to Airflow 3.1 an ``ObjectStoragePath``
    (``s3://...``) is a ``Path`` too, and would be written with ``os.open`` as a local file.
    """
    if not isinstance(path, Path):
        return False
    if type(path) is type(Path()):  # pathlib's own class: local, and no import needed
        return True
    return not isinstance(path, _resolve("ObjectStoragePath"))


__all__ = [
    "DAG",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Connection",
    "ObjectStoragePath",
    "PokeReturnValue",
    "TaskDeferralError",
    "TaskDeferred",
    "TriggerEvent",
    "XCom",
    "XComModel",
    "aextra_dejson",
    "amask_secret",
    "conf",
    "dag_test",
    "is_local_path",
    "mask_secret",
    "redact",
]
