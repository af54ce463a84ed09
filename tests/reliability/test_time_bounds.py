"""The operator's ``timeout`` bounds the wait in both modes, however slowly Runware answers;
``execution_timeout`` bounds a deferred wait too; and the unit of ``timeout`` is pinned
(issue 17, point 2 of the issue, point 4 of the operator's half).

The emulator's ``trickle`` fault sends a ``getResponse`` answer one byte every half second
(each byte well within a per-read timeout) and ``stall`` sends its headers and then nothing:
only a deadline on the whole wait ends either. The connection here allows 60 s per request,
so what ends the wait is the operator's ``timeout``, not the connection's.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import RunwareTimeoutError
from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

from ..dag_fixtures import task_log, write_dag
from ..operators.conftest import FakeTI
from .conftest import KEY, lipsync, run_to_end

pytestmark = pytest.mark.integration

TIMEOUT = 6.0
POLL = 1.0


@pytest.fixture
def patient(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator, with a connection that would wait a full minute for one answer."""
    conn = {
        "conn_type": "runware",
        "host": emu.base_url,
        "password": KEY,
        "extra": {"timeout": 60.0, "max_attempts": 5, "retry_min_wait": 0.05, "retry_max_wait": 0.3},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    emu.admin.configure(render_seconds=3600)  # the job never finishes within the test
    return emu


def _fault_once_submitted(emu: EmulatorServer, rule: dict[str, Any]) -> threading.Thread:
    """Set ``rule`` as soon as the job exists: the polls that follow get it, the idempotency
    probe and the submission before do not (they are outside the wait ``timeout`` bounds)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not emu.admin.submissions() and time.monotonic() < deadline:
            time.sleep(0.02)
        emu.admin.set_faults([rule])

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "trickle", "task_type": "getResponse", "delay": 0.5},
        {"kind": "stall", "task_type": "getResponse", "delay": 600},
    ],
    ids=["trickle", "stall"],
)
def test_a_slow_answer_cannot_hold_the_task_past_its_timeout(
    patient: EmulatorServer, rule: dict[str, Any], deferrable: bool, figures: list[str]
) -> None:
    watcher = _fault_once_submitted(patient, rule)
    op = lipsync(deferrable=deferrable, timeout=TIMEOUT, poll_interval=POLL)
    with pytest.raises(RunwareTimeoutError) as err:
        run_to_end(op, FakeTI())
    ended = time.time()
    watcher.join(10)
    [task_uuid] = patient.admin.submissions()
    submitted = patient.admin.job(task_uuid)["submitted_at"]
    waited = ended - submitted
    assert task_uuid in str(err.value)
    assert patient.admin.stats()["faults"].get(rule["kind"], 0) >= 1  # the answers really were slow
    # The wait's deadline is counted from just after the submission: the task ends within
    # timeout + 2 poll intervals of it, not when the slow answer would have ended (a
    # trickled answer of ~150 bytes takes over a minute; a stalled one ten).
    assert waited <= TIMEOUT + 2 * POLL, f"ended {waited:.1f} s after submitting"
    figures.append(
        f"time bound ({rule['kind']}, {'deferred' if deferrable else 'worker'}): timeout {TIMEOUT:g} s, "
        f"ended {waited:.1f} s after submitting"
    )


def test_execution_timeout_ends_a_deferred_task_under_dag_test(
    patient: EmulatorServer, own_dags: Path, airflow_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dag.test() runs the trigger in-line and ignores Airflow's own deferral timeout: only the
    # trigger's deadline (the earlier of timeout and execution_timeout) can end the wait.
    dag = write_dag(
        own_dags,
        "execution_timeout_deferred",
        """
        SyncLipsyncOperator(
            task_id="lipsync",
            video="c64351d5-4c59-42f7-95e1-eace013eddab",
            audio="https://cdn.test/long.wav",
            deferrable=True,
            poll_interval=1,
            timeout=3600,
            execution_timeout=timedelta(seconds=5),
            retries=0,
        )
        """,
    )
    result = run_dag(dag)
    log = "".join(capsys.readouterr()) + task_log(airflow_home, result.dag_id)
    [task_uuid] = patient.admin.submissions()
    assert result.state == "failed"
    assert result.tasks == {"lipsync": "failed"}
    assert f"Runware task {task_uuid} did not finish" in log
    assert "execution_timeout came before the operator's timeout" in log


@pytest.mark.parametrize(
    "timeout",
    [90, 90.0, "90", " 90 ", timedelta(seconds=90), timedelta(minutes=1.5)],
    ids=["int", "float", "str", "padded-str", "timedelta", "timedelta-minutes"],
)
def test_timeout_is_seconds_or_a_timedelta_and_reaches_the_trigger_as_an_absolute_deadline(
    patient: EmulatorServer, timeout: Any
) -> None:
    op = lipsync(deferrable=True, timeout=timeout)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, RunwareTaskTrigger)
    # Epoch seconds, 90 s after the wait began: not minutes, not milliseconds.
    assert trigger.deadline is not None
    assert trigger.deadline - trigger.started == pytest.approx(90.0)
    assert before <= trigger.started <= time.time()
    kwargs = trigger.serialize()[1]
    assert kwargs["deadline"] == trigger.deadline  # serialised as it is: a restart keeps it


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_trigger_or_loop_deadline_in_seconds_ends_the_wait_after_that_many_seconds(
    patient: EmulatorServer, deferrable: bool
) -> None:
    op = lipsync(deferrable=deferrable, timeout=timedelta(seconds=2), poll_interval=0.2)
    with pytest.raises(RunwareTimeoutError) as err:
        run_to_end(op, FakeTI())
    [task_uuid] = patient.admin.submissions()
    waited = time.time() - patient.admin.job(task_uuid)["submitted_at"]
    assert waited >= 2.0  # not ended early (a unit of minutes would never end; milliseconds at once)
    assert f"Runware task {task_uuid} did not finish within" in str(err.value)
