"""Run a DAG with ``dag.test()`` and read back what it left in the metadata database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    dag: DAG, conf: dict[str, Any] | None = None, *, deferrable: bool | None = None, **test_kwargs: Any
) -> DagResult:
    """Run ``dag`` once with ``dag.test()`` and return what it left behind.

    :param conf: the run's ``dag_run.conf``.
    :param deferrable: force every Sync task (mapped ones included) to defer (``True``) or to
        poll in the worker (``False``); ``None`` leaves the DAG as written. ``dag.test()``
        runs triggers in-line, so deferred tasks work without a triggerer.
    :param test_kwargs: passed on to ``dag.test()`` (``logical_date`` ...).
    """
    if deferrable is not None:
        for task in dag.tasks:
            partial = getattr(task, "partial_kwargs", None)
            if isinstance(partial, dict):  # a mapped operator: its tasks are made at run time
                partial["deferrable"] = deferrable
            elif hasattr(task, "deferrable"):
                task.deferrable = deferrable
    dag_run = dag.test(run_conf=conf or {}, **test_kwargs)
    return DagResult(
        dag_id=dag.dag_id,
        run_id=dag_run.run_id,
        state=str(dag_run.state),
        tasks=task_states(dag.dag_id, dag_run.run_id),
        xcom=xcom_results(dag.dag_id, dag_run.run_id),
    )
