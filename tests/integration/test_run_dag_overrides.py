"""``run_dag(poll_interval=...)`` and the ``runware_run_dag`` fixture: fast polling for every
Sync task, mapped ones included, without editing the DAG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.testing.dags import DagResult, run_dag, sync_tasks
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS

pytestmark = pytest.mark.integration


def _fanout() -> Any:
    return load_dag(EXAMPLE_DAGS / "example_sync_fanout.py")


def _rendered_poll_intervals(result: DagResult, task_id: str) -> dict[int, Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(Rendered.map_index, Rendered.rendered_fields).where(
                Rendered.dag_id == result.dag_id,
                Rendered.run_id == result.run_id,
                Rendered.task_id == task_id,
            )
        ).all()
    return {index: fields["poll_interval"] for index, fields in rows}


@pytest.fixture
def trigger_intervals(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The ``poll_interval`` of every trigger built (what the deferred waits really used)."""
    from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

    seen: list[float] = []
    original = RunwareTaskTrigger.__init__

    def recording_init(self: RunwareTaskTrigger, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen.append(self.poll_interval)

    monkeypatch.setattr(RunwareTaskTrigger, "__init__", recording_init)
    return seen


def test_every_mapped_instance_polls_at_the_given_interval_whatever_the_dag_says(
    emulator: EmulatorServer, airflow_home: Path, trigger_intervals: list[float]
) -> None:
    dag = _fanout()  # its mapped task polls every {{ params.poll_interval }}, 10 s by default
    result = run_dag(dag, poll_interval=0.25, deferrable=True)
    assert result.state == "success", result.tasks
    assert _rendered_poll_intervals(result, "lipsync") == {0: 0.25, 1: 0.25, 2: 0.25}
    # Each trigger is made by its task, then again from its serialised form to run it.
    assert set(trigger_intervals) == {0.25}
    assert len(trigger_intervals) >= 3
    assert len(emulator.admin.submissions()) == 3


def test_worker_polling_takes_the_interval_too(emulator: EmulatorServer, airflow_home: Path) -> None:
    dag = load_dag(EXAMPLE_DAGS / "example_sync_lipsync.py")
    result = run_dag(dag, poll_interval="0.3", deferrable=False)  # type: ignore[arg-type]
    assert result.state == "success", result.tasks
    assert _rendered_poll_intervals(result, "lipsync") == {-1: 0.3}


def test_only_sync_tasks_are_changed() -> None:
    dag = _fanout()
    assert [t.task_id for t in sync_tasks(dag)] == ["lipsync"]
    for task in sync_tasks(dag):
        assert task.partial_kwargs["poll_interval"] == "{{ params.poll_interval }}"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "soon", True])
def test_a_bad_interval_is_refused_before_the_dag_runs(
    emulator: EmulatorServer, airflow_home: Path, bad: Any
) -> None:
    dag = _fanout()
    with pytest.raises(SyncValidationError, match="poll_interval"):
        run_dag(dag, poll_interval=bad)
    assert emulator.admin.requests() == []
    [task] = sync_tasks(dag)
    assert task.partial_kwargs["poll_interval"] == "{{ params.poll_interval }}"  # left as written


def test_the_fixture_runs_against_the_emulator_and_polls_fast(
    runware_run_dag: Callable[..., DagResult],
    runware_emulator: EmulatorServer,
    airflow_home: Path,
    trigger_intervals: list[float],
) -> None:
    result = runware_run_dag(_fanout(), deferrable=True)
    assert result.state == "success", result.tasks
    assert set(trigger_intervals) == {0.2}
    assert len(trigger_intervals) >= 3
    assert sorted(runware_emulator.admin.submissions()) == sorted(
        r["task_uuid"] for r in result.xcom["lipsync"]
    )
