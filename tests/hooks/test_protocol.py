"""Reading Runware's answers: every shape its public clients show, and the wrong ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareJobError,
    RunwareTransientError,
)
from airflow_provider_sync.protocol import ack_for, parse_body, request_error, task_state

UUID = "5d0c6a1e-2b3f-4c5d-8e9f-0a1b2c3d4e5f"


def parse(status: int, body: Any) -> Any:
    return parse_body(status, json.dumps(body).encode())


@pytest.mark.parametrize("code", ["taskNotFound", "taskExpired", "taskFailedOrNotFound"])
def test_each_not_found_spelling_reads_as_not_found(code: str) -> None:
    answer = parse(400, {"data": [], "errors": [{"code": code, "taskUUID": UUID, "message": "?"}]})
    assert task_state(answer, UUID).status == "not_found"


def test_an_answer_with_no_item_for_the_task_reads_as_not_found() -> None:
    assert task_state(parse(200, {"data": []}), UUID).status == "not_found"


def test_a_nested_job_error_keeps_runware_s_code_and_message() -> None:
    item = {"taskUUID": UUID, "status": "error", "error": {"code": "timeoutProvider", "message": "gpu"}}
    state = task_state(parse(200, {"data": [item]}), UUID)
    assert state.status == "error"
    assert isinstance(state.error, RunwareJobError)
    assert (state.error.code, state.error.message, state.error.status_code) == ("timeoutProvider", "gpu", 200)


def test_a_flat_job_error_in_errors_is_read_the_same_way() -> None:
    answer = parse(
        400, {"data": [], "errors": [{"code": "timeoutProvider", "message": "gpu", "taskUUID": UUID}]}
    )
    state = task_state(answer, UUID)
    assert state.error is not None
    assert (state.status, state.error.code, state.error.status_code) == ("error", "timeoutProvider", 400)


def test_a_per_task_server_busy_is_transient_not_a_job_failure() -> None:
    item = {"taskUUID": UUID, "status": "error", "error": {"code": "serverBusy", "message": "later"}}
    with pytest.raises(RunwareTransientError):
        task_state(parse(200, {"data": [item]}), UUID)
    with pytest.raises(RunwareTransientError):
        task_state(parse(200, {"errors": [{"code": "serverBusy", "taskUUID": UUID}]}), UUID)


def test_a_job_with_one_generation_still_processing_is_not_finished() -> None:
    items = [
        {"taskUUID": UUID, "status": "success", "videoURL": "https://cdn.test/1.mp4"},
        {"taskUUID": UUID, "status": "processing"},
    ]
    assert task_state(parse(200, {"data": items}), UUID).status == "processing"
    items[1] = {"taskUUID": UUID, "status": "success", "videoURL": "https://cdn.test/2.mp4"}
    done = task_state(parse(200, {"data": items}), UUID)
    assert done.status == "success"
    assert done.result is not None
    assert [g["videoURL"] for g in done.result["generations"]] == [
        "https://cdn.test/1.mp4",
        "https://cdn.test/2.mp4",
    ]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_statuses_runware_s_clients_retry_are_transient(status: int) -> None:
    with pytest.raises(RunwareTransientError) as raised:
        parse_body(status, b"<html>busy</html>")
    assert raised.value.status_code == status


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"data": 5}', b'{"data": {"taskUUID": "x"}}', b'{"errors": "boom"}', b"not json"],
    ids=["array", "data-int", "data-object", "errors-string", "not-json"],
)
def test_json_of_the_wrong_shape_is_a_transient_fault_not_a_crash(body: bytes) -> None:
    with pytest.raises(RunwareTransientError):
        parse_body(200, body)


def test_conflict_task_uuid_is_an_acknowledgement_and_other_refusals_raise() -> None:
    conflict = parse(
        400, {"data": [], "errors": [{"code": "conflictTaskUUID", "taskUUID": UUID, "message": "x"}]}
    )
    assert ack_for(conflict, UUID) == {"taskUUID": UUID, "duplicate": True}
    refused = parse(400, {"data": [], "errors": [{"code": "invalidModel", "taskUUID": UUID, "message": "x"}]})
    with pytest.raises(RunwareAPIError) as raised:
        ack_for(refused, UUID)
    assert raised.value.code == "invalidModel"


def test_a_refused_key_fails_the_whole_request() -> None:
    body = {"data": [], "errors": [{"code": "invalidApiKey", "message": "no", "taskType": "authentication"}]}
    with pytest.raises(RunwareAuthError):
        parse(401, body)


def test_a_refusal_naming_no_task_is_a_request_error_and_one_naming_a_task_is_not() -> None:
    anonymous = parse(400, {"data": [], "errors": [{"code": "invalidRequest", "message": "bad uuid"}]})
    assert isinstance(request_error(anonymous, [UUID]), RunwareAPIError)
    about_task = parse(400, {"data": [], "errors": [{"code": "taskExpired", "taskUUID": UUID}]})
    assert request_error(about_task, [UUID]) is None
