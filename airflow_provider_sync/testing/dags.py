"""Run a DAG with ``dag.test()`` and read back what it left in the metadata database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_sync._compat import dag_test
from airflow_provider_sync.testing.sandbox import task_states, xcom_results

if TYPE_CHECKING:
    from airflow.sdk import DAG


@dataclass
class DagResult:
    """What a ``dag.test()`` run left behind.

    :param state: the run's final state (``success`` or ``failed``).
    :param tasks: each task instance's final state, by ``task_id`` (``task_id[n]`` for
        mapped ones).
    :param xcom: each task's ``return_value`` XCom (a list by map index for mapped tasks).
    """

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str]
    xcom: dict[str, Any]

    def xcom_key(self, key: str) -> dict[str, Any]:
        """Every task's XCom under ``key`` (for example ``task_uuid``)."""
        return xcom_results(self.dag_id, self.run_id, key)


def run_dag(
    dag: DAG,
    conf: dict[str, Any] | None = None,
    *,
    deferrable: bool | None = None,
    poll_interval: float | None = None,
    **test_kwargs: Any,
) -> DagResult:
    """Run ``dag`` once with ``dag.test()`` and return what it left behind.

    ``dag.test()`` runs one task instance at a time, mapped ones included, and runs each
    deferred task's trigger in line: three mapped renders wait one after another, so with
    the operators' default ``poll_interval`` of 10 s they take 30 s or more. Pass
    ``poll_interval=0.2`` to poll fast without changing the DAG.

    The overrides change ``dag``'s tasks in place (load the DAG again for a run without them).

    :param conf: the run's ``dag_run.conf``.
    :param deferrable: force every Sync task (mapped ones included) to defer (``True``) or to
        poll in the worker (``False``); ``None`` leaves the DAG as written. Deferred tasks
        need no triggerer here.
    :param poll_interval: seconds between status polls for every Sync task, mapped ones
        included, whatever the DAG sets (a literal, a template or the default); ``None``
        leaves the DAG as written. A ``SyncRenderSensor``'s ``poke_interval`` follows it.
    :param test_kwargs: passed on to ``dag.test()`` (``logical_date`` ...; on Airflow 2.11
        ``logical_date`` is its ``execution_date``, and ``run_after`` is not used).
    :raises SyncValidationError: for a ``poll_interval`` that is not a positive number of
        seconds.
    """
    overrides: dict[str, Any] = {}
    if deferrable is not None:
        overrides["deferrable"] = deferrable
    if poll_interval is not None:
        from airflow_provider_sync.models import parse_seconds

        overrides["poll_interval"] = parse_seconds(poll_interval, "poll_interval")
    for task in sync_tasks(dag):
        partial = getattr(task, "partial_kwargs", None)
        for name, value in overrides.items():
            if name == "poll_interval" and _is_sensor(task):
                name = "poke_interval"  # a sensor's name for it
            if isinstance(partial, dict):  # a mapped operator: its tasks are made at run time
                partial[name] = value
            else:
                setattr(task, name, value)
    dag_run = dag_test(dag, run_conf=conf or {}, **test_kwargs)
    return DagResult(
        dag_id=dag.dag_id,
        run_id=dag_run.run_id,
        state=str(dag_run.state),
        tasks=task_states(dag.dag_id, dag_run.run_id),
        xcom=xcom_results(dag.dag_id, dag_run.run_id),
    )


def sync_tasks(dag: DAG) -> list[Any]:
    """The DAG's Sync operators and sensors: plain tasks and mapped ones (``partial(...).expand(...)``)."""
    from airflow_provider_sync.operators.sync import SyncBaseOperator
    from airflow_provider_sync.sensors.sync import SyncRenderSensor

    return [task for task in dag.tasks if _is(task, (SyncBaseOperator, SyncRenderSensor))]


def _is_sensor(task: Any) -> bool:
    from airflow_provider_sync.sensors.sync import SyncRenderSensor

    return _is(task, (SyncRenderSensor,))


def _is(task: Any, classes: tuple[type, ...]) -> bool:
    """Whether ``task`` is one of ``classes``, or a mapped task of one."""
    cls = getattr(task, "operator_class", None)  # a mapped operator names the class it maps
    return isinstance(task, classes) or (isinstance(cls, type) and issubclass(cls, classes))
