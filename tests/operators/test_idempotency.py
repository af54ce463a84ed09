"""Job identity: which UUID a task instance uses, and when it submits or re-attaches.

``submit_or_attach`` runs against a scripted hook here, so each answer Runware may give to
the probe and to the submission is pinned on its own, with the exact calls it causes.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from airflow_provider_sync._compat import AirflowFailException
from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareInsufficientCreditsError,
    RunwareJobError,
    RunwareTransientError,
    SyncValidationError,
)
from airflow_provider_sync.idempotency import (
    MAX_GENERATIONS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    JobKey,
    idempotency_fingerprint,
    request_fingerprint,
    submit_or_attach,
)
from airflow_provider_sync.protocol import TaskState

KEY = JobKey(dag_id="d", run_id="r", task_id="t", map_index=-1, fingerprint="f" * 32)
TASK: dict[str, Any] = {"taskType": "videoInference", "model": "sync:lipsync-2@1", "inputs": {"video": "v"}}
SUCCESS = {"status": "success", "videoURL": "https://cdn.test/v.mp4"}


def failed(task_uuid: str) -> TaskState:
    return TaskState(task_uuid, "error", error=RunwareJobError("gpu", code="timeoutProvider"))


class ScriptedHook:
    """Answers probes from ``states`` (one answer per probe, the last one repeating) and
    submissions from ``acks``; records every call in order."""

    def __init__(self) -> None:
        self.states: dict[str, list[TaskState | Exception]] = {}
        self.acks: dict[str, dict[str, Any] | Exception] = {}
        self.calls: list[tuple[str, str]] = []
        self.sent: list[dict[str, Any]] = []

    def get_task_state(self, task_uuid: str) -> TaskState:
        self.calls.append(("probe", task_uuid))
        script = self.states.get(task_uuid) or [TaskState(task_uuid, "not_found")]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def submit_task(self, task: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("submit", task["taskUUID"]))
        self.sent.append(task)
        ack = self.acks.get(task["taskUUID"], {"taskUUID": task["taskUUID"], "status": "processing"})
        if isinstance(ack, Exception):
            raise ack
        return ack

    @property
    def submitted(self) -> list[str]:
        return [u for kind, u in self.calls if kind == "submit"]


def attach(hook: ScriptedHook, **kw: Any) -> Any:
    return submit_or_attach(hook, dict(TASK), KEY, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the probe decides


def test_an_unknown_job_is_submitted_under_generation_0() -> None:
    hook = ScriptedHook()
    got = attach(hook)
    assert (got.task_uuid, got.generation, got.submitted, got.state) == (KEY.task_uuid(0), 0, True, None)
    assert hook.calls == [("probe", KEY.task_uuid(0)), ("submit", KEY.task_uuid(0))]
    assert hook.sent == [{**TASK, "taskUUID": KEY.task_uuid(0)}]
    assert not got.finished


@pytest.mark.parametrize("status", ["processing", "success"])
def test_a_running_or_finished_job_is_re_attached_without_submitting(status: str) -> None:
    hook = ScriptedHook()
    u0 = KEY.task_uuid(0)
    state = TaskState(u0, status, result=SUCCESS if status == "success" else None)  # type: ignore[arg-type]
    hook.states[u0] = [state]
    got = attach(hook)
    assert (got.task_uuid, got.submitted, got.state) == (u0, False, state)
    assert got.finished is (status == "success")
    assert hook.submitted == []


def test_a_failed_job_moves_on_to_the_next_generation() -> None:
    hook = ScriptedHook()
    u0, u1 = KEY.task_uuid(0), KEY.task_uuid(1)
    hook.states[u0] = [failed(u0)]
    got = attach(hook)
    assert (got.task_uuid, got.generation, got.submitted) == (u1, 1, True)
    assert hook.calls == [("probe", u0), ("probe", u1), ("submit", u1)]


def test_after_max_generations_of_failed_jobs_nothing_more_is_submitted() -> None:
    hook = ScriptedHook()
    for g in range(MAX_GENERATIONS):
        hook.states[KEY.task_uuid(g)] = [failed(KEY.task_uuid(g))]
    with pytest.raises(AirflowFailException, match=f"{MAX_GENERATIONS} jobs"):
        attach(hook)
    assert hook.submitted == []
    assert len(hook.calls) == MAX_GENERATIONS


def test_generation_max_minus_one_is_still_tried() -> None:
    hook = ScriptedHook()
    for g in range(MAX_GENERATIONS - 1):
        hook.states[KEY.task_uuid(g)] = [failed(KEY.task_uuid(g))]
    got = attach(hook)
    assert got.generation == MAX_GENERATIONS - 1
    assert hook.submitted == [KEY.task_uuid(MAX_GENERATIONS - 1)]


@pytest.mark.parametrize(
    "refusal",
    [
        RunwareAuthError("Invalid API key", code="invalidApiKey", status_code=401),
        RunwareInsufficientCreditsError("no credit", code="insufficientCredits", status_code=402),
    ],
    ids=["refused-key", "no-credit"],
)
def test_a_refused_key_or_empty_account_stops_at_the_probe(refusal: Exception) -> None:
    hook = ScriptedHook()
    hook.states[KEY.task_uuid(0)] = [refusal]
    with pytest.raises(type(refusal)):
        attach(hook)
    assert hook.submitted == []


@pytest.mark.parametrize(
    "unreadable",
    [
        RunwareAPIError("getResponse refused", code="invalidTaskUUID", status_code=400),
        RunwareTransientError("HTTP 503 from Runware", status_code=503),
    ],
    ids=["refusal-naming-no-task", "outage"],
)
def test_a_probe_that_says_nothing_usable_submits_under_the_same_uuid(unreadable: Exception) -> None:
    hook = ScriptedHook()
    hook.states[KEY.task_uuid(0)] = [unreadable]
    got = attach(hook)
    assert (got.task_uuid, got.submitted) == (KEY.task_uuid(0), True)
    assert hook.submitted == [KEY.task_uuid(0)]


def test_prepare_runs_once_and_only_when_a_job_is_really_submitted() -> None:
    prepared: list[dict[str, Any]] = []

    def prepare(task: dict[str, Any]) -> dict[str, Any]:
        prepared.append(task)
        return {**task, "inputs": {"video": "uploaded-uuid"}}

    hook = ScriptedHook()
    u0 = KEY.task_uuid(0)
    hook.states[u0] = [TaskState(u0, "processing")]
    attach(hook, prepare=prepare)
    assert prepared == []  # re-attaching costs no upload
    hook = ScriptedHook()
    hook.states[u0] = [failed(u0)]
    attach(hook, prepare=prepare)
    assert len(prepared) == 1
    assert hook.sent[0]["inputs"] == {"video": "uploaded-uuid"}


# ---------------------------------------------------------------- conflictTaskUUID


def duplicate(task_uuid: str) -> dict[str, Any]:
    return {"taskUUID": task_uuid, "duplicate": True}


def test_conflict_on_a_job_still_running_re_attaches_and_keeps_polling() -> None:
    hook = ScriptedHook()
    u0 = KEY.task_uuid(0)
    hook.states[u0] = [TaskState(u0, "not_found"), TaskState(u0, "processing")]
    hook.acks[u0] = duplicate(u0)
    got = attach(hook)
    assert (got.task_uuid, got.submitted, got.state, got.finished) == (u0, False, None, False)
    assert hook.calls == [("probe", u0), ("submit", u0), ("probe", u0)]


def test_conflict_on_a_job_that_has_since_succeeded_hands_back_its_result() -> None:
    hook = ScriptedHook()
    u0 = KEY.task_uuid(0)
    done = TaskState(u0, "success", result=SUCCESS)
    hook.states[u0] = [TaskState(u0, "not_found"), done]
    hook.acks[u0] = duplicate(u0)
    got = attach(hook)
    assert (got.submitted, got.state, got.finished) == (False, done, True)


def test_conflict_on_a_job_that_has_since_failed_is_not_re_attached_the_next_generation_is_submitted() -> (
    None
):
    hook = ScriptedHook()
    u0, u1 = KEY.task_uuid(0), KEY.task_uuid(1)
    hook.states[u0] = [TaskState(u0, "not_found"), failed(u0)]
    hook.acks[u0] = duplicate(u0)
    got = attach(hook)
    assert (got.task_uuid, got.generation, got.submitted) == (u1, 1, True)
    assert hook.calls == [("probe", u0), ("submit", u0), ("probe", u0), ("probe", u1), ("submit", u1)]


def test_conflict_whose_second_probe_is_unreadable_re_attaches_rather_than_paying_again() -> None:
    hook = ScriptedHook()
    u0 = KEY.task_uuid(0)
    hook.states[u0] = [TaskState(u0, "not_found"), RunwareTransientError("HTTP 502 from Runware")]
    hook.acks[u0] = duplicate(u0)
    got = attach(hook)
    assert (got.task_uuid, got.submitted, got.state) == (u0, False, None)
    assert hook.submitted == [u0]


def test_local_media_is_uploaded_once_even_when_a_conflict_leads_to_the_next_generation() -> None:
    prepared: list[str] = []

    def prepare(task: dict[str, Any]) -> dict[str, Any]:
        prepared.append("upload")
        return {**task, "inputs": {"video": "uploaded-uuid"}}

    hook = ScriptedHook()
    u0, u1 = KEY.task_uuid(0), KEY.task_uuid(1)
    hook.states[u0] = [TaskState(u0, "not_found"), failed(u0)]
    hook.acks[u0] = duplicate(u0)
    attach(hook, prepare=prepare)
    assert prepared == ["upload"]
    assert [t["inputs"] for t in hook.sent] == [{"video": "uploaded-uuid"}] * 2
    assert hook.submitted == [u0, u1]


def test_a_refused_submission_is_raised_not_retried_under_another_uuid() -> None:
    hook = ScriptedHook()
    hook.acks[KEY.task_uuid(0)] = RunwareAPIError("bad", code="invalidParameter")
    with pytest.raises(RunwareAPIError):
        attach(hook)
    assert hook.submitted == [KEY.task_uuid(0)]


# ---------------------------------------------------------------- the UUIDs themselves


def test_task_uuids_are_v4_shaped_deterministic_and_differ_per_generation_and_instance() -> None:
    u = uuid.UUID(KEY.task_uuid(0))
    assert (u.version, u.variant) == (4, uuid.RFC_4122)
    assert KEY.task_uuid(0) == JobKey("d", "r", "t", -1, "f" * 32).task_uuid(0)
    others = {
        KEY.task_uuid(1),
        JobKey("d2", "r", "t", -1, "f" * 32).task_uuid(0),
        JobKey("d", "r2", "t", -1, "f" * 32).task_uuid(0),
        JobKey("d", "r", "t2", -1, "f" * 32).task_uuid(0),
        JobKey("d", "r", "t", 0, "f" * 32).task_uuid(0),
        JobKey("d", "r", "t", -1, "e" * 32).task_uuid(0),
    }
    assert len(others) == 6
    assert KEY.task_uuid(0) not in others


# ---------------------------------------------------------------- fingerprints


def test_a_fingerprint_ignores_the_task_uuid_and_follows_every_other_field() -> None:
    base = request_fingerprint({**TASK, "taskUUID": "a"})
    assert base == request_fingerprint({**TASK, "taskUUID": "b"})
    assert len(base) == 32
    assert base != request_fingerprint({**TASK, "model": "sync:lipsync-2-pro@1"})
    assert base != request_fingerprint({**TASK, "inputs": {"video": "w"}})


def test_local_media_versions_change_the_fingerprint_only_when_the_content_changes() -> None:
    one = request_fingerprint(TASK, ["10:sha256:aa"])
    assert one == request_fingerprint(TASK, ["10:sha256:aa"])
    assert one != request_fingerprint(TASK, ["10:sha256:bb"])
    assert one != request_fingerprint(TASK)


def test_an_idempotency_key_of_the_maximum_length_is_accepted_and_one_more_is_not() -> None:
    assert idempotency_fingerprint("k" * MAX_IDEMPOTENCY_KEY_CHARS) is not None
    assert idempotency_fingerprint(7) == idempotency_fingerprint("7")
    with pytest.raises(SyncValidationError, match="idempotency_key"):
        idempotency_fingerprint("k" * (MAX_IDEMPOTENCY_KEY_CHARS + 1))
