"""Job identity and the answers that must never start a second paid render by themselves.

* Delivery details (``webhookURL``, ``uploadEndpoint``) are not the render: a token that
  changes per try must not change the taskUUID.
* A cancelled job (``taskCancelled``) and a rendered-but-undelivered one (``uploadFailed``)
  are re-attached to, not replaced by the next generation.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync._compat import AirflowFailException
from airflow_provider_sync.exceptions import (
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareJobError,
    RunwareModerationError,
    RunwareUploadFailedError,
)
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.idempotency import JobKey, request_fingerprint, submit_or_attach
from airflow_provider_sync.job_watch import JobWatch
from airflow_provider_sync.payloads import error_from_details
from airflow_provider_sync.protocol import TaskState

TASK: dict[str, Any] = {
    "taskType": "videoInference",
    "model": "sync:lipsync-2@1",
    "inputs": {
        "video": "https://media.test/v.mp4",
        "audio": [{"id": "a", "source": "https://media.test/a.wav"}],
    },
}


def key(task: dict[str, Any]) -> JobKey:
    return JobKey(dag_id="d", run_id="r", task_id="t", map_index=-1, fingerprint=request_fingerprint(task))


# ------------------------------------------------------------------- delivery is not identity


def test_a_webhook_token_that_changes_per_try_keeps_the_task_uuid() -> None:
    first = {**TASK, "webhookURL": "https://hooks.test/runware?token=try-1-9f2c"}
    second = {**TASK, "webhookURL": "https://hooks.test/runware?token=try-2-77ab"}
    assert key(first).task_uuid(0) == key(second).task_uuid(0) == key(TASK).task_uuid(0)


def test_an_upload_endpoint_does_not_change_the_task_uuid() -> None:
    presigned = {**TASK, "uploadEndpoint": "https://bucket.test/out/a.mp4?X-Amz-Signature=1"}
    other = {**TASK, "uploadEndpoint": "https://elsewhere.test/put/b.mp4?token=2"}
    assert key(presigned).task_uuid(0) == key(other).task_uuid(0) == key(TASK).task_uuid(0)


def test_what_is_rendered_still_changes_the_task_uuid() -> None:
    other_audio = {
        **TASK,
        "inputs": {**TASK["inputs"], "audio": [{"id": "a", "source": "https://media.test/b.wav"}]},
    }
    assert key(other_audio).task_uuid(0) != key(TASK).task_uuid(0)
    assert key({**TASK, "outputFormat": "WEBM"}).task_uuid(0) != key(TASK).task_uuid(0)


# ------------------------------------------------------------------- finished jobs kept


class Scripted:
    """Probe answers by taskUUID (the last one repeating); submissions acknowledged."""

    def __init__(self, states: dict[str, list[TaskState]], acks: dict[str, dict[str, Any]] | None = None):
        self.states = states
        self.acks = acks or {}
        self.submitted: list[str] = []

    def get_task_state(self, task_uuid: str) -> TaskState:
        script = self.states.get(task_uuid) or [TaskState(task_uuid, "not_found")]
        return script.pop(0) if len(script) > 1 else script[0]

    def submit_task(self, task: dict[str, Any]) -> dict[str, Any]:
        self.submitted.append(task["taskUUID"])
        return self.acks.get(task["taskUUID"], {"taskUUID": task["taskUUID"]})


KEY = key(TASK)
GEN0 = KEY.task_uuid(0)


def cancelled(u: str) -> TaskState:
    return TaskState(u, "error", error=RunwareJobCancelledError("cancelled by user", code="taskCancelled"))


def undelivered(u: str, video_url: str | None) -> TaskState:
    error = RunwareUploadFailedError(
        "PUT answered 403", code="uploadFailed", video_url=video_url, video_uuid="v-1"
    )
    return TaskState(u, "error", error=error)


def test_a_cancelled_job_is_re_attached_and_reported_never_rendered_again() -> None:
    hook = Scripted({GEN0: [cancelled(GEN0)]})
    attachment = submit_or_attach(hook, TASK, KEY)  # type: ignore[arg-type]
    assert hook.submitted == []
    assert (attachment.task_uuid, attachment.submitted, attachment.finished) == (GEN0, False, True)
    assert attachment.state is not None
    error = attachment.state.error
    assert isinstance(error, RunwareJobCancelledError)
    assert isinstance(error, AirflowFailException)  # no Airflow retry: it would only re-attach
    assert GEN0 in error.message
    assert "force_new_job" in error.message


def test_a_job_whose_delivery_failed_is_re_attached_with_its_video_url() -> None:
    hook = Scripted({GEN0: [undelivered(GEN0, "https://vm.test/v.mp4")]})
    attachment = submit_or_attach(hook, TASK, KEY, rerender_undelivered=True)  # type: ignore[arg-type]
    assert hook.submitted == []
    assert attachment.state is not None
    error = attachment.state.error
    assert isinstance(error, RunwareUploadFailedError)
    assert (error.video_url, error.video_uuid, error.code) == ("https://vm.test/v.mp4", "v-1", "uploadFailed")
    assert GEN0 in error.message


def test_an_undelivered_job_without_a_video_url_names_the_ways_to_get_a_video() -> None:
    hook = Scripted({GEN0: [undelivered(GEN0, None)]})
    attachment = submit_or_attach(hook, TASK, KEY)  # type: ignore[arg-type]
    assert hook.submitted == []
    assert attachment.state is not None
    assert attachment.state.error is not None
    message = attachment.state.error.message
    assert GEN0 in message
    assert 'output_transfer="download"' in message
    assert "force_new_job" in message


def test_only_a_user_asking_for_delivery_through_the_worker_renders_an_undelivered_job_again() -> None:
    hook = Scripted({GEN0: [undelivered(GEN0, None)]})
    attachment = submit_or_attach(hook, TASK, KEY, rerender_undelivered=True)  # type: ignore[arg-type]
    assert hook.submitted == [KEY.task_uuid(1)]
    assert (attachment.generation, attachment.submitted) == (1, True)


def test_a_conflict_whose_job_turns_out_cancelled_is_not_followed_by_a_new_render() -> None:
    hook = Scripted(
        {GEN0: [TaskState(GEN0, "not_found"), cancelled(GEN0)]},
        acks={GEN0: {"taskUUID": GEN0, "duplicate": True}},
    )
    attachment = submit_or_attach(hook, TASK, KEY)  # type: ignore[arg-type]
    assert hook.submitted == [GEN0]  # the conflicting submission only
    assert attachment.finished
    assert isinstance(attachment.state and attachment.state.error, RunwareJobCancelledError)


@pytest.mark.parametrize(
    "error",
    [
        RunwareJobError("gpu", code="timeoutProvider"),
        RunwareModerationError("refused", code="contentPolicyViolation"),
        RunwareInsufficientCreditsError("top up", code="insufficientCredits"),
    ],
    ids=["provider", "moderation", "quota"],
)
def test_other_failed_jobs_give_way_to_the_next_generation_when_the_task_is_run_again(
    error: Exception,
) -> None:
    hook = Scripted({GEN0: [TaskState(GEN0, "error", error=error)]})  # type: ignore[arg-type]
    attachment = submit_or_attach(hook, TASK, KEY)  # type: ignore[arg-type]
    assert hook.submitted == [KEY.task_uuid(1)]
    assert attachment.generation == 1


# ------------------------------------------------------------------- through the wire


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    value = {
        "conn_type": "runware",
        "host": "http://identity.test/v1",
        "password": "k",
        "extra": {"max_attempts": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))
    made = RunwareHook()
    yield made
    made.close()


@pytest.mark.parametrize(
    ("item", "cls"),
    [
        (
            {"status": "error", "error": {"code": "taskCancelled", "message": "stopped"}},
            RunwareJobCancelledError,
        ),
        (
            {
                "status": "error",
                "error": {"code": "uploadFailed", "message": "PUT 403"},
                "videoURL": "https://vm.test/v.mp4",
            },
            RunwareUploadFailedError,
        ),
    ],
    ids=["cancelled", "upload-failed"],
)
def test_runware_s_answer_leads_to_the_worker_raising_the_job_s_typed_error(
    hook: RunwareHook, item: dict[str, Any], cls: type[Exception]
) -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        sent.extend(t["taskType"] for t in tasks)
        return httpx.Response(200, json={"data": [{"taskUUID": t["taskUUID"], **item} for t in tasks]})

    with respx.mock:
        respx.post("http://identity.test/v1").mock(side_effect=answer)
        attachment = submit_or_attach(hook, TASK, KEY)
    assert sent == ["getResponse"]  # the probe only: nothing rendered
    assert attachment.state is not None
    event = JobWatch(GEN0, started=0.0).on_state(attachment.state, now=1.0)
    assert event is not None
    assert event["status"] == "error"
    raised = error_from_details(event["error"], GEN0)
    assert type(raised) is cls
    assert isinstance(raised, AirflowFailException)
    assert GEN0 in raised.message
    if isinstance(raised, RunwareUploadFailedError):
        assert raised.video_url == "https://vm.test/v.mp4"
