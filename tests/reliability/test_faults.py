"""Transient faults are survived, permanent ones fail at once, and nothing is paid twice."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareInsufficientCreditsError,
    RunwareJobError,
    RunwareTimeoutError,
)
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import wait_until_idle
from ..operators.conftest import FakeTI
from .conftest import _first_event, lipsync, run_to_end

pytestmark = pytest.mark.integration


def count(emu: EmulatorServer, task_type: str) -> int:
    return sum(1 for t in emu.admin.requests_tasks() if t.get("taskType") == task_type)


TRANSIENT = [
    {"kind": "status", "status": 503, "count": 2},
    {"kind": "status", "status": 500, "count": 1, "task_type": "videoInference"},
    {"kind": "rate_limit", "retry_after": 0.2, "count": 2},
    {"kind": "reset", "count": 1},
    {"kind": "malformed", "count": 1},
    {"kind": "slow", "delay": 1.5, "count": 1},
]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
@pytest.mark.parametrize("rule", TRANSIENT, ids=[f"{r['kind']}-{r.get('status', '')}" for r in TRANSIENT])
def test_transient_faults_are_retried_and_the_render_succeeds(
    emu: EmulatorServer, rule: dict[str, Any], deferrable: bool
) -> None:
    emu.admin.set_faults([rule])
    result = run_to_end(lipsync(deferrable=deferrable), FakeTI())
    assert result["status"] == "success"
    wait_until_idle(emu)  # a slow request is logged only when the server finally answers it
    assert emu.admin.stats()["faults"] == {rule["kind"]: rule["count"]}
    assert len(emu.admin.submissions()) == 1
    faulted = [r for r in emu.admin.requests() if r.get("fault")]
    assert len(faulted) == rule["count"]


def test_a_lost_submit_response_is_not_duplicated(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "lost_response", "task_type": "videoInference", "count": 1}])
    result = run_to_end(lipsync(deferrable=True), FakeTI())
    assert result["status"] == "success"
    assert emu.admin.submissions() == [result["task_uuid"]]
    assert count(emu, "videoInference") == 2  # the lost one and its retry...
    assert emu.admin.stats()["duplicates"] == 1  # ...which Runware refused as a duplicate


def test_retries_clears_and_killed_workers_reattach(emu: EmulatorServer) -> None:
    ti = FakeTI()
    with pytest.raises(TaskDeferred):  # a worker that submitted, then died
        lipsync(deferrable=True).execute({"ti": ti})
    first = run_to_end(lipsync(deferrable=False), FakeTI())  # the retry
    again = run_to_end(lipsync(deferrable=True), FakeTI())  # a clear after success
    assert first["task_uuid"] == again["task_uuid"] == ti.xcoms["task_uuid"]
    assert len(emu.admin.submissions()) == 1
    other = run_to_end(lipsync(n=1, deferrable=True), FakeTI())  # new parameters: a new job
    assert other["task_uuid"] != first["task_uuid"]
    mapped = run_to_end(lipsync(deferrable=True), FakeTI(map_index=3))  # another task instance
    assert mapped["task_uuid"] != first["task_uuid"]
    assert len(emu.admin.submissions()) == 3


def test_a_failed_job_fails_the_try_and_the_retry_pays_for_one_new_job(emu: EmulatorServer) -> None:
    emu.admin.set_faults(
        [{"kind": "job_error", "code": "timeoutProvider", "message": "provider gave up", "count": 1}]
    )
    with pytest.raises(RunwareJobError) as err:
        run_to_end(lipsync(deferrable=True), FakeTI())
    assert err.value.code == "timeoutProvider"
    assert "provider gave up" in str(err.value)
    polls_before = count(emu, "getResponse")
    result = run_to_end(lipsync(deferrable=True), FakeTI())
    failed, retried = emu.admin.submissions()
    assert result["task_uuid"] == retried != failed
    assert count(emu, "getResponse") - polls_before < 40  # no retry storm
    # A third try after success re-attaches to the successful job.
    assert run_to_end(lipsync(deferrable=False), FakeTI())["task_uuid"] == retried
    assert len(emu.admin.submissions()) == 2


def test_a_forgotten_task_is_waited_for(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "forget", "polls": 3, "count": 1}])
    result = run_to_end(lipsync(deferrable=True), FakeTI())
    assert result["status"] == "success"
    assert emu.admin.stats()["faults"]["forget"] == 3


def test_a_bad_key_fails_at_once(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    emu.admin.configure(api_keys=["another-key"])
    with pytest.raises(RunwareAuthError) as err:
        run_to_end(lipsync(deferrable=True), FakeTI())
    assert err.value.code == "invalidApiKey"
    assert "Invalid API key" in str(err.value)
    assert len(emu.admin.requests()) == 1  # no retry


def test_insufficient_credit_fails_at_once(emu: EmulatorServer) -> None:
    emu.admin.configure(credit_usd=0.01)
    with pytest.raises(RunwareInsufficientCreditsError) as err:
        run_to_end(lipsync(deferrable=False), FakeTI())
    assert err.value.code == "insufficientCredits"
    assert count(emu, "videoInference") == 1
    assert emu.admin.submissions() == []


def test_an_invalid_parameter_from_the_server_fails_at_once(emu: EmulatorServer) -> None:
    hook = RunwareHook()
    task = lipsync().build_request(task_uuid="7b0f7a47-0d8f-4a36-9b1b-8a8a3f3f0c11")
    task["providerSettings"] = {"sync": {"syncMode": "sideways"}}  # bypassing our own validation
    with pytest.raises(RunwareAPIError) as err:
        hook.submit_task(task)
    assert (err.value.code, err.value.parameter) == ("invalidParameter", "providerSettings.sync.syncMode")
    assert err.value.allowed_values == ["bounce", "loop", "cut_off", "silence", "remap"]
    assert len(emu.admin.requests()) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_the_operator_timeout_names_the_task_uuid(emu: EmulatorServer, deferrable: bool) -> None:
    emu.admin.configure(render_seconds=30)
    ti = FakeTI()
    with pytest.raises(RunwareTimeoutError) as err:
        run_to_end(lipsync(deferrable=deferrable, timeout=0.5), ti)
    task_uuid = ti.xcoms["task_uuid"]
    assert err.value.code == "timeout"
    assert err.value.task_uuid == task_uuid
    assert f"Runware task {task_uuid} did not finish within" in err.value.message
    assert "(last status: processing)" in err.value.message
    assert f"look it up with getResponse for taskUUID {task_uuid}" in err.value.message
    # Giving up waiting is ours alone: the job itself goes on at Runware, submitted once.
    assert emu.admin.submissions() == [task_uuid]
    [job] = emu.admin.jobs()
    assert (job["taskUUID"], job["status"]) == (task_uuid, "processing")


def test_a_trigger_rebuilt_after_a_triggerer_restart_finishes_the_same_job(emu: EmulatorServer) -> None:
    emu.admin.configure(render_seconds=600)  # finished by hand below, whatever the machine's speed
    op = lipsync(deferrable=True)
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    trigger = deferred.value.trigger

    def polls() -> int:
        return sum(1 for t in emu.admin.requests_tasks() if t.get("taskType") == "getResponse")

    async def run_briefly() -> None:
        before = polls()
        task = asyncio.ensure_future(_first_event(trigger))
        for _ in range(1000):  # at least one poll, however busy the machine; then the triggerer goes down
            await asyncio.sleep(0.01)
            if await asyncio.to_thread(polls) > before:
                break
        else:
            raise AssertionError("the trigger never polled")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_briefly())
    emu.admin.complete(trigger.task_uuid)  # the render ends while no triggerer is watching
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    event = asyncio.run(_first_event(rebuilt))
    result = op.execute_complete({"ti": ti}, event, **(deferred.value.kwargs or {}))
    assert result["task_uuid"] == ti.xcoms["task_uuid"]
    assert result["status"] == "success"
    assert len(emu.admin.submissions()) == 1
