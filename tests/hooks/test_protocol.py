"""Reading Runware's answers: every shape its public clients show, and the wrong ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareInsufficientCreditsError,
    RunwareJobError,
    RunwareTransientError,
)
from airflow_provider_sync.protocol import (
    ack_for,
    error_from_item,
    is_transient_status,
    parse_body,
    request_error,
    task_state,
)

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


def test_an_error_about_another_task_beside_nothing_about_ours_is_no_refusal() -> None:
    # Seen in a soak: an empty answer (the job forgotten for a poll) plus a stray error about
    # a task nobody sent failed the job as if Runware had refused the request.
    stray = {"code": ["a", "b"], "message": "stray", "taskUUID": "c7c9a8d4-7f3e-4a59-9b1f-0d3c2a1b4e5f"}
    for status in (200, 400):
        assert request_error(parse(status, {"data": [], "errors": [stray]}), [UUID]) is None
    unreadable = {"code": "invalidParameter", "taskUUID": {"uuid": UUID}}
    assert request_error(parse(400, {"data": [], "errors": [unreadable]}), [UUID]) is None
    anonymous = {"code": "invalidRequest", "message": "bad"}
    assert request_error(parse(200, {"data": [], "errors": [anonymous]}), [UUID]) is None
    assert request_error(parse(400, {"data": [], "errors": [anonymous]}), [UUID]) is not None


@pytest.mark.parametrize(
    ("header", "expected"), [("2.5", 2.5), ("0", 0.0), ("-3", 0.0), ("Wed, 21 Oct 2026 07:28:00 GMT", None)]
)
def test_retry_after_is_read_in_seconds_and_a_date_falls_back_to_our_backoff(
    header: str, expected: float | None
) -> None:
    with pytest.raises(RunwareTransientError) as raised:
        parse_body(429, b"{}", {"retry-after": header})
    assert raised.value.retry_after == expected
    assert raised.value.code == "rateLimitExceeded"  # 429 without a code in its body


def test_a_transient_answer_keeps_runware_s_own_code_and_message() -> None:
    body = {"errors": [{"code": "serviceUnavailable", "message": "maintenance until 10:00"}]}
    with pytest.raises(RunwareTransientError) as raised:
        parse(503, body)
    assert (raised.value.code, raised.value.message, raised.value.status_code) == (
        "serviceUnavailable",
        "maintenance until 10:00",
        503,
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, RunwareAuthError),
        (403, RunwareAuthError),
        (402, RunwareInsufficientCreditsError),
        (404, RunwareAPIError),
    ],
)
def test_an_empty_error_answer_is_classified_by_its_status(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        parse(status, {})
    assert type(raised.value) is error
    assert raised.value.status_code == status


def test_a_single_error_object_is_read_like_a_list_of_one() -> None:
    with pytest.raises(RunwareAuthError) as raised:
        parse(401, {"error": {"code": "invalidApiKey", "message": "Invalid API key"}})
    assert raised.value.code == "invalidApiKey"


def test_an_account_refusal_fails_the_request_even_under_http_200_and_beside_data() -> None:
    item = {"taskUUID": UUID, "status": "processing"}
    with pytest.raises(RunwareInsufficientCreditsError):
        parse(200, {"data": [item], "errors": [{"code": "insufficientCredits", "message": "top up"}]})


def test_error_fields_are_read_in_every_spelling_runware_uses() -> None:
    legacy = error_from_item({"errorCode": "invalidModel", "parameter": "model", "allowedValues": ["a"]})
    assert (legacy.code, legacy.message, legacy.parameter, legacy.allowed_values) == (
        "invalidModel",
        "invalidModel",  # no message: the code stands in for it
        "model",
        ["a"],
    )
    nested_text = error_from_item({"taskUUID": UUID, "status": "error", "error": "render crashed"})
    assert (nested_text.message, nested_text.task_uuid) == ("render crashed", UUID)
    assert error_from_item({}).message == "unknown error"
    assert isinstance(error_from_item({"code": "rateLimitExceeded"}), RunwareTransientError)
    assert isinstance(error_from_item({"code": "invalidModel"}, 500), RunwareTransientError)


def test_statuses_are_read_in_any_case_and_spelling() -> None:
    for status in ("SUCCESS", "succeeded", "Completed", "done"):
        item = {"taskUUID": UUID, "status": status, "videoURL": "https://cdn.test/v.mp4"}
        assert task_state(parse(200, {"data": [item]}), UUID).status == "success"
    for status in ("pending", "QUEUED", "running", "in_progress", ""):
        assert (
            task_state(parse(200, {"data": [{"taskUUID": UUID, "status": status}]}), UUID).status
            == "processing"
        )
    for status in ("failed", "FAILURE"):
        assert (
            task_state(parse(200, {"data": [{"taskUUID": UUID, "status": status}]}), UUID).status == "error"
        )
    with pytest.raises(RunwareTransientError, match="unknown status"):
        task_state(parse(200, {"data": [{"taskUUID": UUID, "status": "paused"}]}), UUID)


def test_a_success_keeps_every_field_runware_sent() -> None:
    item = {
        "taskUUID": UUID,
        "status": "success",
        "videoURL": "https://cdn.test/v.mp4",
        "seed": 7,
        "newField": [1],
    }
    assert task_state(parse(200, {"data": [item]}), UUID).result == item


def test_an_answer_that_does_not_mention_the_submitted_task_is_transient() -> None:
    other = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(RunwareTransientError, match="did not acknowledge"):
        ack_for(parse(200, {"data": [{"taskUUID": other, "status": "processing"}]}), UUID)
    ours = {"taskUUID": UUID, "taskType": "videoInference", "status": "processing"}
    both = parse(
        200, {"data": [ours], "errors": [{"code": "invalidModel", "taskUUID": other, "message": "x"}]}
    )
    assert ack_for(both, UUID) == ours  # another task's error is not ours


@pytest.mark.parametrize(
    ("status", "transient"), [(None, False), (400, False), (499, False), (500, True), (599, True)]
)
def test_which_statuses_are_worth_retrying(status: int | None, transient: bool) -> None:
    assert is_transient_status(status) is transient
