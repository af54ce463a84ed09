"""Whatever Runware answers, only typed ``RunwareError``\\ s come out of reading it.

Generated answers -- JSON of any shape (Runware's fields with values of every type, and
anything else), bodies that are not JSON at all, any HTTP status -- go to every path that
reads an answer: a submission's acknowledgement, a single and a batched ``getResponse``,
a ``mediaStorage`` upload. Each path may return its result or raise a ``RunwareError``
subclass, nothing else. A batch with stray items about one task leaves every other task's
state exactly as it was without them.

The pure readers are called directly (no HTTP) so that over 10,000 answers stay a matter of
seconds: each generated body is fed under the status it was drawn with, under 200 and 400,
and cut short, so one example is four answers. A few hundred more go through the hook and
the shared poller over mocked HTTP, to show the transport adds no way out. Every answer fed
is counted; the last test checks the total and reports it in the run's figures.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_sync.exceptions import RunwareError
from airflow_provider_sync.hooks.batch_poller import BatchPoller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.protocol import (
    AUTH_CODES,
    CANCELLED_CODES,
    CREDIT_CODES,
    DUPLICATE_CODES,
    MAX_TEXT,
    MODERATION_CODES,
    NOT_FOUND_CODES,
    TRANSIENT_CODES,
    UPLOAD_FAILED_CODES,
    RunwareResponse,
    TaskState,
    VideoResult,
    ack_for,
    is_auth_code,
    is_credit_code,
    media_ack,
    parse_body,
    read_batch,
    read_video_result,
    request_error,
    task_state,
)

A, B, C = (
    "2b1f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "3c2a4d5e-6f70-4b8c-9dae-1f2a3b4c5d6e",
    "4d3b5e6f-7081-4c9d-aebf-2a3b4c5d6e7f",
)
TASKS = [A, B, C]
UNKNOWN = "5e4c6f70-8192-4dae-bfc0-3b4c5d6e7f80"

#: Hypothesis examples per test; each pure example feeds several answers (see ``variants``).
EXAMPLES = {
    "submission": 650,
    "single_poll": 650,
    "batched_poll": 600,
    "media_upload": 450,
    "stray_items": 500,
    "hook": 60,
    "poller": 40,
}
#: Answers fed so far in this session, by path.
FED: dict[str, int] = dict.fromkeys(EXAMPLES, 0)


def pure(name: str) -> Any:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
known_codes = sorted(
    AUTH_CODES
    | CREDIT_CODES
    | MODERATION_CODES
    | NOT_FOUND_CODES
    | CANCELLED_CODES
    | UPLOAD_FAILED_CODES
    | DUPLICATE_CODES
    | TRANSIENT_CODES
    | {"taskCancelled", "timeoutProvider", "invalidParameter", "providerInsufficientCredits", "x"}
)
codes = st.one_of(st.sampled_from(known_codes), json_values)
statuses = st.one_of(
    st.sampled_from(
        [
            *("processing", "queued", "pending", "scheduled", "waiting"),
            *("success", "completed", "SUCCESS", "error", "failed", "cancelled", "weird", ""),
        ]
    ),
    json_values,
)
task_refs = st.one_of(st.sampled_from([*TASKS, UNKNOWN]), json_values)
texts = st.one_of(st.text(max_size=20), scalars, json_values)


def error_objects(code: st.SearchStrategy[Any] = codes, task: st.SearchStrategy[Any] = task_refs) -> Any:
    return st.fixed_dictionaries(
        {},
        optional={
            "code": code,
            "errorCode": code,
            "message": texts,
            "taskUUID": task,
            "parameter": texts,
            "allowedValues": json_values,
            "videoURL": texts,
        },
    )


def items(code: st.SearchStrategy[Any] = codes, task: st.SearchStrategy[Any] = task_refs) -> Any:
    return st.fixed_dictionaries(
        {},
        optional={
            "taskUUID": task,
            "status": statuses,
            "error": st.one_of(error_objects(code, task), json_values),
            "code": code,
            "message": texts,
            "videoURL": texts,
            "videoUUID": texts,
            "cost": texts,
            "seed": texts,
            "mediaUUID": texts,
            "mediaURL": texts,
        },
    )


item_lists = st.lists(st.one_of(items(), error_objects(), json_values), max_size=4)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "data": st.one_of(item_lists, json_values),
            "errors": st.one_of(item_lists, error_objects(), json_values),
            "error": st.one_of(error_objects(), json_values),
            "taskUUID": task_refs,
        },
    ),
    json_values,
)
DEEP = b"[" * 50_000 + b"]" * 50_000
odd_bytes = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"\xff\xfe{",
            DEEP,
            b'{"data": [' + b"9" * 6000 + b"]}",
            b'{"data": [{"taskUUID": "' + A.encode() + b'", "status": "success", "cost": Infinity}]}',
            b"<html><body>502 Bad Gateway</body></html>",
        ]
    ),
)


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """JSON text (NaN and Infinity included, sometimes cut short or in UTF-16), or any bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(odd_bytes)
    text = json.dumps(draw(bodies))
    if draw(st.integers(0, 19)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode("utf-16" if draw(st.integers(0, 29)) == 0 else "utf-8")


http_statuses = st.one_of(
    st.sampled_from([200, 201, 204, 400, 401, 402, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504]),
    st.integers(100, 599),
)
headers = st.one_of(st.just({}), st.fixed_dictionaries({"retry-after": st.text(max_size=12)}))


def read(status: int, body: bytes, head: dict[str, str]) -> RunwareResponse | None:
    """``parse_body``, where a typed error is an allowed outcome (``None``)."""
    try:
        return parse_body(status, body, head)
    except RunwareError:
        return None


def variants(status: int, body: bytes) -> list[tuple[int, bytes]]:
    """One generated body as four answers: as drawn, under 200 and 400, and cut short."""
    return [(status, body), (200, body), (400, body), (status, body[: len(body) // 2])]


def feed(path: str, status: int, body: bytes, head: dict[str, str]) -> list[RunwareResponse]:
    """The parsed answers of :func:`variants` (typed refusals left out), counted as fed."""
    answers = variants(status, body)
    FED[path] += len(answers)
    return [r for r in (read(s, b, head) for s, b in answers) if r is not None]


def check_state(state: TaskState, task_uuid: str) -> None:
    assert isinstance(state, TaskState)
    assert state.task_uuid == task_uuid
    if state.status in ("error", "unreadable"):
        assert isinstance(state.error, RunwareError)
        assert state.error.code is None or isinstance(state.error.code, str)
        assert isinstance(state.error.message, str)
        assert len(state.error.message) <= MAX_TEXT
        str(state.error)  # its description renders
    if state.status == "success":
        video = read_video_result(state.result)
        check_video(video)


def check_video(video: VideoResult) -> None:
    assert video.video_url is None or isinstance(video.video_url, str)
    assert video.video_uuid is None or isinstance(video.video_uuid, str)
    assert video.cost is None or (isinstance(video.cost, float) and 0 <= video.cost < float("inf"))
    assert video.seed is None or (isinstance(video.seed, int) and not isinstance(video.seed, bool))


# ------------------------------------------------------------------- every path, pure


@pure("submission")
@given(http_statuses, raw_bodies(), headers)
def test_any_answer_to_a_submission_gives_an_acknowledgement_or_a_typed_error(
    status: int, body: bytes, head: dict[str, str]
) -> None:
    for response in feed("submission", status, body, head):
        try:
            ack = ack_for(response, A)
        except RunwareError:
            continue
        assert isinstance(ack, dict)


@pure("single_poll")
@given(http_statuses, raw_bodies(), headers)
def test_any_answer_to_a_poll_gives_a_state_or_a_typed_error(
    status: int, body: bytes, head: dict[str, str]
) -> None:
    for response in feed("single_poll", status, body, head):
        try:
            state = task_state(response, A)
        except RunwareError:
            continue
        check_state(state, A)


@pure("batched_poll")
@given(http_statuses, raw_bodies(), headers)
def test_any_answer_to_a_batched_poll_gives_each_task_a_state(
    status: int, body: bytes, head: dict[str, str]
) -> None:
    for response in feed("batched_poll", status, body, head):
        refusal = request_error(response, TASKS)
        assert refusal is None or isinstance(refusal, RunwareError)
        states = read_batch(response, TASKS)
        assert list(states) == TASKS
        for u, state in states.items():
            check_state(state, u)


@pure("media_upload")
@given(http_statuses, raw_bodies(), headers)
def test_any_answer_to_a_media_upload_gives_a_media_uuid_or_a_typed_error(
    status: int, body: bytes, head: dict[str, str]
) -> None:
    for response in feed("media_upload", status, body, head):
        try:
            ack = media_ack(response, A)
        except RunwareError:
            continue
        assert isinstance(ack["mediaUUID"], str)
        assert ack["mediaUUID"]
        assert ack["mediaURL"] is None or isinstance(ack["mediaURL"], str)


# ------------------------------------------------------------------- stray items


def not_account_wide(code: Any) -> bool:
    # A refused key or an exhausted account fails the whole request by design (platform/errors):
    # such items are not "stray", so strays never carry those codes.
    return not (is_auth_code(code) or is_credit_code(code))


stray_codes = codes.filter(not_account_wide)
good_items = {
    "processing": lambda u: {"taskUUID": u, "status": "processing", "progress": 40},
    "success": lambda u: {
        "taskUUID": u,
        "status": "success",
        "videoURL": f"https://vm.test/{u}.mp4",
        "cost": 0.1,
    },
    "job-error": lambda u: {
        "taskUUID": u,
        "status": "error",
        "error": {"code": "timeoutProvider", "message": "m"},
    },
    "not-found": lambda u: {"taskUUID": u, "code": "taskNotFound", "message": "?"},
    # Another way of not knowing a task: no item about it at all.
    "absent": lambda u: {},
}


@st.composite
def answers_with_strays(draw: st.DrawFn) -> tuple[int, dict[str, Any], dict[str, Any], str]:
    """A clean batch answer, the same answer with stray items about one task mixed in, and
    that task (one of the batch, an unknown one, or none a string can name)."""
    kinds = {u: draw(st.sampled_from(sorted(good_items))) for u in TASKS}
    data = [good_items[k](u) for u, k in kinds.items() if k not in ("not-found", "absent")]
    errors = [good_items[k](u) for u, k in kinds.items() if k == "not-found"]
    about = draw(st.one_of(st.sampled_from([*TASKS, UNKNOWN]), json_values))
    pinned = st.just(about)
    strays = draw(
        st.lists(
            st.one_of(items(stray_codes, pinned), error_objects(stray_codes, pinned)).map(
                lambda item: {**item, "taskUUID": about}
            ),
            min_size=1,
            max_size=4,
        )
    )
    junk = draw(st.lists(json_values.filter(lambda v: not isinstance(v, dict)), max_size=2))
    noisy_data, noisy_errors = list(data), list(errors)
    for stray in [*strays, *junk]:
        target = noisy_data if draw(st.booleans()) else noisy_errors
        target.insert(draw(st.integers(0, len(target))), stray)
    status = draw(st.sampled_from([200, 400]))
    clean = {"data": data, "errors": errors}
    return (
        status,
        clean,
        {"data": noisy_data, "errors": noisy_errors},
        about if isinstance(about, str) else "",
    )


def outcome(state: TaskState) -> tuple[Any, ...]:
    error = state.error
    return (
        state.status,
        state.result,
        type(error),
        getattr(error, "code", None),
        getattr(error, "message", None),
    )


@pure("stray_items")
@given(answers_with_strays())
def test_stray_items_about_one_task_leave_every_other_task_s_state_intact(
    case: tuple[int, dict[str, Any], dict[str, Any], str],
) -> None:
    status, clean, noisy, about = case
    FED["stray_items"] += 2
    if status >= 400 and not clean["data"] and not clean["errors"]:
        # "400 {}" alone is a refusal naming no task (fact 21): the stray items make it one
        # that names some, so compare with an empty answer that HTTP 200 carried.
        before = read_batch(parse_body(200, json.dumps(clean).encode()), TASKS)
    else:
        before = read_batch(parse_body(status, json.dumps(clean).encode()), TASKS)
    after_answer = parse_body(status, json.dumps(noisy).encode())
    refusal = request_error(after_answer, TASKS)
    # Only an HTTP error that says nothing about our tasks and holds an error naming no task
    # refuses the whole request; a stray naming any task (ours, another, an unreadable one) or
    # any HTTP 200 never does (a soak once failed a job on a stray beside an empty answer).
    says_nothing_of_ours = not any(after_answer.mentions(u) for u in TASKS)
    anonymous = any(e.get("taskUUID") in (None, "") for e in after_answer.errors)
    if status >= 400 and says_nothing_of_ours and anonymous:
        assert isinstance(refusal, RunwareError)
        return
    assert refusal is None
    after = read_batch(after_answer, TASKS)
    for u in TASKS:
        check_state(after[u], u)
        if u != about:
            assert outcome(after[u]) == outcome(before[u])


# ------------------------------------------------------------------- through the transport

URL = "http://properties.test/v1"


@pytest.fixture(scope="module")
def connection() -> Any:
    mp = pytest.MonkeyPatch()
    value = {"conn_type": "runware", "host": URL, "password": "k-props", "extra": {"max_attempts": 1}}
    mp.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))
    yield
    mp.undo()


@settings(max_examples=EXAMPLES["hook"], deadline=None, suppress_health_check=list(HealthCheck))
@given(http_statuses, raw_bodies())
def test_the_hook_turns_any_answer_into_states_or_a_typed_error(
    connection: None, status: int, body: bytes
) -> None:
    hook = RunwareHook()
    try:
        with respx.mock:
            route = respx.post(URL).mock(return_value=httpx.Response(status, content=body))
            for call in (
                lambda: hook.get_task_states(TASKS),
                lambda: hook.get_task_state(A),
                lambda: hook.submit_task({"taskType": "videoInference", "taskUUID": A}),
            ):
                try:
                    result = call()
                except RunwareError:
                    continue
                assert isinstance(result, dict | TaskState)
            FED["hook"] += route.call_count
    finally:
        hook.close()


@settings(max_examples=EXAMPLES["poller"], deadline=None, suppress_health_check=list(HealthCheck))
@given(http_statuses, raw_bodies())
def test_the_shared_poller_turns_any_answer_into_states_or_typed_errors(
    connection: None, status: int, body: bytes
) -> None:
    async def poll() -> list[Any]:
        poller = BatchPoller(lambda: RunwareHook("runware_default"), window=0)
        poller.acquire()
        try:
            with respx.mock:
                route = respx.post(URL).mock(return_value=httpx.Response(status, content=body))
                results = await asyncio.gather(*(poller.get_state(u) for u in TASKS), return_exceptions=True)
                FED["poller"] += route.call_count
                return results
        finally:
            await poller.release()

    for u, result in zip(TASKS, asyncio.run(poll()), strict=True):
        if isinstance(result, BaseException):
            assert isinstance(result, RunwareError), repr(result)
        else:
            check_state(result, u)


def test_over_ten_thousand_generated_answers_were_fed(figures: list[str]) -> None:
    if not all(FED.values()):
        pytest.skip("counts the answers of the whole module; run it whole")
    figures.append(
        f"answer parsing properties: {sum(EXAMPLES.values())} hypothesis examples fed "
        f"{sum(FED.values())} answers ({', '.join(f'{k} {v}' for k, v in FED.items())})"
    )
    assert sum(FED.values()) >= 10_000
