"""Answers of odd shapes, Runware's error families and statuses, and the typed success reader.

The property tests (``tests/properties/test_answer_parsing.py``) throw generated answers at the
same functions; these are the cases a reader can check by eye, one behaviour each.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareJobError,
    RunwareModerationError,
    RunwareTransientError,
    RunwareUploadFailedError,
)
from airflow_provider_sync.hooks.batch_poller import BatchPoller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.protocol import (
    ack_for,
    media_ack,
    parse_body,
    read_batch,
    read_video_result,
    task_state,
)

UUID = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def parse(status: int, body: Any) -> Any:
    return parse_body(status, json.dumps(body).encode())


# ----------------------------------------------------------------- the pin of issue 17


def test_an_empty_object_under_http_400_is_a_typed_refusal() -> None:
    with pytest.raises(RunwareAPIError) as raised:
        parse_body(400, b"{}")
    assert type(raised.value) is RunwareAPIError
    assert raised.value.status_code == 400


# ----------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", ["processing", "queued", "pending", "scheduled", "waiting", "Waiting "])
def test_every_still_running_status_runware_s_clients_use_reads_as_processing(status: str) -> None:
    answer = parse(200, {"data": [{"taskUUID": UUID, "status": status}]})
    assert task_state(answer, UUID).status == "processing"


@pytest.mark.parametrize("status", ["cancelled", "canceled"])
def test_a_cancelled_status_is_a_cancelled_job(status: str) -> None:
    state = task_state(parse(200, {"data": [{"taskUUID": UUID, "status": status}]}), UUID)
    assert isinstance(state.error, RunwareJobCancelledError)
    assert state.error.code == "taskCancelled"


# ----------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("insufficientCredits", RunwareInsufficientCreditsError),
        ("providerInsufficientCredits", RunwareInsufficientCreditsError),
        ("thirdPartyInsufficientCredits", RunwareInsufficientCreditsError),
        ("quotaExceeded", RunwareInsufficientCreditsError),
        ("paymentRequired", RunwareInsufficientCreditsError),
        ("contentPolicyViolation", RunwareModerationError),
        ("providerContentPolicyViolation", RunwareModerationError),
        ("sensitiveContentDetected", RunwareModerationError),
        ("unsafeContentDetected", RunwareModerationError),
        ("nsfwContentDetected", RunwareModerationError),
        ("promptBlocked", RunwareModerationError),
        ("imageBlocked", RunwareModerationError),
        ("moderationFailed", RunwareModerationError),
        ("taskCancelled", RunwareJobCancelledError),
        ("uploadFailed", RunwareUploadFailedError),
        ("timeoutProvider", RunwareJobError),
        ("processingFailed", RunwareJobError),
        ("invalidParameter", RunwareJobError),
    ],
)
@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_a_job_error_keeps_its_family_s_class(code: str, cls: type[RunwareError], shape: str) -> None:
    if shape == "nested":
        body = {"data": [{"taskUUID": UUID, "status": "error", "error": {"code": code, "message": "m"}}]}
    else:
        body = {"data": [], "errors": [{"taskUUID": UUID, "code": code, "message": "m"}]}
    state = task_state(parse(200 if shape == "nested" else 400, body), UUID)
    assert state.status == "error"
    assert type(state.error) is cls
    assert state.error.code == code
    assert state.error.task_uuid == UUID


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("insufficientCredits", RunwareInsufficientCreditsError),
        ("contentPolicyViolation", RunwareModerationError),
        ("promptBlocked", RunwareModerationError),
        ("invalidApiKey", RunwareAuthError),
        ("accountSuspended", RunwareAuthError),
        ("invalidParameter", RunwareAPIError),
    ],
)
def test_a_refused_submission_is_raised_with_its_family_s_class(code: str, cls: type[RunwareError]) -> None:
    body = {"data": [], "errors": [{"taskUUID": UUID, "code": code, "message": "no"}]}
    with pytest.raises(cls) as raised:
        ack_for(parse(400, body), UUID)
    assert type(raised.value) is cls


@pytest.mark.parametrize("code", ["inferenceRateLimitExceeded", "serverUnavailable", "serverBusy"])
def test_codes_about_the_moment_are_transient(code: str) -> None:
    with pytest.raises(RunwareTransientError):
        task_state(parse(400, {"data": [], "errors": [{"taskUUID": UUID, "code": code}]}), UUID)


def test_a_quota_refusal_naming_one_task_stays_with_that_task() -> None:
    body = {
        "data": [{"taskUUID": OTHER, "status": "processing"}],
        "errors": [{"taskUUID": UUID, "code": "insufficientCredits", "message": "top up"}],
    }
    states = read_batch(parse(200, body), [UUID, OTHER])
    assert isinstance(states[UUID].error, RunwareInsufficientCreditsError)
    assert states[OTHER].status == "processing"


def test_a_quota_refusal_naming_no_task_refuses_the_whole_request() -> None:
    body = {"data": [{"taskUUID": OTHER, "status": "processing"}], "errors": [{"code": "quotaExceeded"}]}
    with pytest.raises(RunwareInsufficientCreditsError):
        parse(200, body)


def test_upload_failed_keeps_the_video_url_of_the_paid_render() -> None:
    item = {
        "taskUUID": UUID,
        "status": "error",
        "error": {"code": "uploadFailed", "message": "PUT answered 403"},
        "videoURL": "https://vm.runware.ai/v.mp4",
        "videoUUID": "v-9",
    }
    state = task_state(parse(200, {"data": [item]}), UUID)
    assert isinstance(state.error, RunwareUploadFailedError)
    assert (state.error.video_url, state.error.video_uuid) == ("https://vm.runware.ai/v.mp4", "v-9")
    flat = {"taskUUID": UUID, "code": "uploadFailed", "message": "m"}
    bare = task_state(parse(400, {"data": [], "errors": [flat]}), UUID)
    assert isinstance(bare.error, RunwareUploadFailedError)
    assert bare.error.video_url is None


def test_a_not_found_code_nested_in_an_error_item_reads_as_not_found() -> None:
    item = {"taskUUID": UUID, "status": "error", "error": {"code": "taskNotFound"}}
    assert task_state(parse(200, {"data": [item]}), UUID).status == "not_found"


def test_an_error_envelope_naming_its_task_beside_the_error_is_about_that_task() -> None:
    # runware-python's parse_api_error: {"error": {...}, "taskUUID": ...} from pre-stream errors.
    answer = parse(400, {"error": {"code": "timeoutProvider", "message": "slow"}, "taskUUID": UUID})
    state = task_state(answer, UUID)
    assert state.error is not None
    assert (state.status, state.error.code) == ("error", "timeoutProvider")


# ----------------------------------------------------------------- odd shapes


@pytest.mark.parametrize(
    "item",
    [
        {"taskUUID": UUID, "status": "error", "error": {"code": ["a", "b"], "message": "m"}},
        {"taskUUID": UUID, "status": "error", "error": {"code": {"x": 1}, "message": {"deep": [1, 2]}}},
        {"taskUUID": UUID, "status": "error", "error": [1, 2, 3]},
        {"taskUUID": UUID, "status": "error", "error": 5, "code": True, "message": None},
        {
            "taskUUID": UUID,
            "status": "error",
            "error": {"code": 19, "parameter": ["a"], "taskUUID": {"o": 1}},
        },
        {"taskUUID": UUID, "status": ["error"]},
        {"taskUUID": UUID, "status": {"state": "success"}},
    ],
    ids=["code-list", "code-dict", "error-list", "error-int", "code-int", "status-list", "status-dict"],
)
def test_odd_fields_in_an_item_give_a_typed_outcome(item: dict[str, Any]) -> None:
    answer = parse(200, {"data": [item]})
    try:
        state = task_state(answer, UUID)
    except RunwareError:
        return
    assert state.error is None or isinstance(state.error, RunwareError)
    if state.error is not None:
        assert state.error.code is None or isinstance(state.error.code, str)


def test_items_naming_their_task_with_an_object_or_a_list_are_about_no_task() -> None:
    body = {
        "data": [{"taskUUID": UUID, "status": "processing"}, {"taskUUID": {"id": UUID}, "status": "success"}],
        "errors": [{"taskUUID": [UUID], "code": ["x"]}, {"taskUUID": 7, "code": "invalidParameter"}],
    }
    answer = parse(200, body)
    assert task_state(answer, UUID).status == "processing"
    assert ack_for(answer, UUID)["status"] == "processing"


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage",  # not UTF-8
        b'{"data": [{"taskUUID": "' + UUID.encode() + b'", "cost": NaN, "status": "processing"}]}',
        b'{"data": [' + b"1" * 5000 + b"]}",  # more digits than Python converts
        b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
        b'{"errors": [{"code": "x", "message": "' + b"\xc3\x28" + b'"}]}',
    ],
    ids=["not-utf8", "nan", "huge-number", "deep", "bad-utf8-in-string"],
)
def test_bodies_no_json_reader_should_choke_on_give_a_typed_outcome(content: bytes) -> None:
    for status in (200, 400, 404, 500):
        try:
            answer = parse_body(status, content)
        except RunwareError:
            continue
        task_state(answer, UUID)


def test_a_message_of_a_megabyte_is_cut_to_a_readable_length() -> None:
    body = {"data": [], "errors": [{"taskUUID": UUID, "code": "x", "message": "m" * 2**20}]}
    state = task_state(parse(400, body), UUID)
    assert state.error is not None
    assert len(state.error.message) <= 2000


# ----------------------------------------------------------------- success reader


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {"videoURL": "https://v/1.mp4", "videoUUID": "u", "cost": 0.264, "seed": 7},
            ("https://v/1.mp4", "u", 0.264, 7),
        ),
        ({}, (None, None, None, None)),
        ({"videoURL": "", "videoUUID": 5, "cost": "0.2", "seed": "7"}, (None, None, None, None)),
        ({"videoURL": ["x"], "cost": {"usd": 1}, "seed": 7.0}, (None, None, None, 7)),
        ({"cost": float("inf"), "seed": 7.5}, (None, None, None, None)),
        ({"cost": float("nan"), "seed": True}, (None, None, None, None)),
        ({"cost": -0.5}, (None, None, None, None)),
        ({"cost": True}, (None, None, None, None)),
        ({"cost": 10**400}, (None, None, None, None)),
        ({"cost": 0}, (None, None, 0.0, None)),
        ({"cost": 3}, (None, None, 3.0, None)),
    ],
)
def test_the_success_reader_types_every_field_and_keeps_the_raw_cost(
    item: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    video = read_video_result(item)
    assert (video.video_url, video.video_uuid, video.cost, video.seed) == expected
    assert video.cost_raw is item.get("cost")


def test_the_success_reader_takes_anything() -> None:
    assert read_video_result(None).video_url is None
    assert read_video_result([1, 2]).cost is None  # type: ignore[arg-type]


# ----------------------------------------------------------------- media storage


@pytest.mark.parametrize(
    "item",
    [
        {"taskUUID": UUID},
        {"taskUUID": UUID, "mediaUUID": ""},
        {"taskUUID": UUID, "mediaUUID": ["m"]},
        {"taskUUID": UUID, "mediaUUID": 5},
    ],
)
def test_a_media_answer_without_a_usable_media_uuid_is_transient(item: dict[str, Any]) -> None:
    with pytest.raises(RunwareTransientError):
        media_ack(parse(200, {"data": [item]}), UUID)


def test_a_media_answer_is_read_with_its_url() -> None:
    ack = media_ack(parse(200, {"data": [{"taskUUID": UUID, "mediaUUID": " m-1 ", "mediaURL": 3}]}), UUID)
    assert (ack["mediaUUID"], ack["mediaURL"]) == ("m-1", None)


# ----------------------------------------------------------------- batches through the hook


URL = "http://shapes.test/v1"


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"conn_type": "runware", "host": URL, "password": "k", "extra": {"max_attempts": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))


def stray_batch(request: httpx.Request) -> httpx.Response:
    """Answers every task of a batch, plus odd items about ``odd`` and about nobody."""
    tasks = [t["taskUUID"] for t in json.loads(request.content)]
    data: list[Any] = [{"taskUUID": u, "status": "processing"} for u in tasks if u != "odd"]
    data += [{"taskUUID": "odd", "status": {"what": 1}}, {"taskUUID": {"x": "fine"}, "status": "success"}, 7]
    errors: list[Any] = [{"taskUUID": ["fine"], "code": ["boom"]}, "not an object"]
    return httpx.Response(200, json={"data": data, "errors": errors})


def test_one_stray_item_leaves_the_other_states_of_a_batch_intact(conn: None) -> None:
    with respx.mock:
        respx.post(URL).mock(side_effect=stray_batch)
        states = RunwareHook().get_task_states(["fine", "odd", "also-fine"])
    assert states["fine"].status == "processing"
    assert states["also-fine"].status == "processing"
    assert states["odd"].status == "unreadable"
    assert isinstance(states["odd"].error, RunwareTransientError)


def test_a_single_poll_about_an_unreadable_item_raises_its_transient_fault(conn: None) -> None:
    with respx.mock:
        respx.post(URL).mock(side_effect=stray_batch)
        with pytest.raises(RunwareTransientError):
            RunwareHook().get_task_state("odd")


def leaves_out_the_first(request: httpx.Request) -> httpx.Response:
    """Batches lose their first task; a task asked alone is answered."""
    tasks = [t["taskUUID"] for t in json.loads(request.content)]
    kept = tasks[1:] if len(tasks) > 1 else tasks
    return httpx.Response(200, json={"data": [{"taskUUID": u, "status": "processing"} for u in kept]})


def test_a_task_a_batch_leaves_out_is_asked_alone_before_it_counts_as_not_found(conn: None) -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=leaves_out_the_first)
        states = RunwareHook().get_task_states(["lost", "b", "c"])
    assert {u: s.status for u, s in states.items()} == {
        "lost": "processing",
        "b": "processing",
        "c": "processing",
    }
    assert [[t["taskUUID"] for t in json.loads(c.request.content)] for c in route.calls] == [
        ["lost", "b", "c"],
        ["lost"],
    ]


async def test_the_shared_poller_asks_a_left_out_task_alone_too(conn: None) -> None:
    poller = BatchPoller(lambda: RunwareHook("runware_default"), window=0.01)
    poller.acquire()
    try:
        with respx.mock:
            respx.post(URL).mock(side_effect=leaves_out_the_first)
            states = await asyncio.gather(*(poller.get_state(u) for u in ["lost", "b", "c"]))
    finally:
        await poller.release()
    assert [s.status for s in states] == ["processing"] * 3
    assert poller.stats.asked_alone == 1


async def test_the_shared_poller_keeps_a_stray_item_to_its_own_task(conn: None) -> None:
    poller = BatchPoller(lambda: RunwareHook("runware_default"), window=0.01)
    poller.acquire()
    try:
        with respx.mock:
            respx.post(URL).mock(side_effect=stray_batch)
            fine, odd = await asyncio.gather(
                poller.get_state("fine"), poller.get_state("odd"), return_exceptions=True
            )
    finally:
        await poller.release()
    assert getattr(fine, "status", None) == "processing"
    assert isinstance(odd, RunwareTransientError)
