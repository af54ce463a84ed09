"""RunwareHook against a mocked Runware (respx): headers, batching, retries and their limits."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareInsufficientCreditsError,
    RunwareTransientError,
)
from airflow_provider_sync.hooks.runware import DEFAULT_BASE_URL, RunwareHook

URL = "http://hook.test/v1"
KEY = "sk-hook-test-88c1"
UUID = "3f2b8c1a-5d6e-4f70-8a9b-0c1d2e3f4a5b"


@pytest.fixture(autouse=True)
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "conn_type": "runware",
        "host": URL,
        "password": KEY,
        "extra": {"max_attempts": 4, "retry_min_wait": 0.01, "retry_max_wait": 0.05, "timeout": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))


def processing(request: httpx.Request) -> httpx.Response:
    tasks = json.loads(request.content)
    return httpx.Response(
        200, json={"data": [{"taskUUID": t["taskUUID"], "status": "processing"} for t in tasks]}
    )


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        (None, {}, DEFAULT_BASE_URL),
        ("api.runware.ai", {}, "https://api.runware.ai/v1"),
        ("http://127.0.0.1:8765/v1/", {}, "http://127.0.0.1:8765/v1"),
        ("ignored", {"base_url": "http://other.test/v1"}, "http://other.test/v1"),
    ],
)
def test_base_url_from_the_connection(
    monkeypatch: pytest.MonkeyPatch, host: str | None, extra: dict[str, Any], expected: str
) -> None:
    value = {"conn_type": "runware", "host": host, "password": KEY, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_X", json.dumps(value))
    assert RunwareHook("runware_x").base_url == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "runware.internal", "port": 8443, "schema": "v2"}, "https://runware.internal:8443/v2"),
        ({"host": "runware.internal", "port": 8443}, "https://runware.internal:8443/v1"),
        ({"host": "http://127.0.0.1/v1", "port": 9000}, "http://127.0.0.1:9000/v1"),
        ({"host": "http://127.0.0.1:8765", "port": 9000}, "http://127.0.0.1:8765/v1"),
    ],
)
def test_the_port_and_schema_fields_build_the_url(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], expected: str
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_X", json.dumps({"conn_type": "runware", "password": KEY, **fields})
    )
    assert RunwareHook("runware_x").base_url == expected


def test_timeouts_from_the_connection_and_longer_ones_for_moving_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Older connection forms stored their fields as extra__runware__<name>.
    extra = {"extra__runware__timeout": "7", "max_attempts": "2"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_X",
        json.dumps({"conn_type": "runware", "host": URL, "password": KEY, "extra": extra}),
    )
    settings = RunwareHook("runware_x").settings
    assert (settings.timeout, settings.max_attempts) == (7.0, 2)
    api, files = settings.httpx_timeout(), settings.httpx_timeout(upload=True)
    assert (api.read, api.connect) == (7.0, 7.0)
    assert (files.read or 0) >= 300  # a whole video moves in one request
    assert files.connect == 7.0


def test_requests_carry_the_bearer_key_and_a_json_array() -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=processing)
        hook = RunwareHook()
        state = hook.get_task_state(UUID)
    assert state.status == "processing"
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == [{"taskType": "getResponse", "taskUUID": UUID}]


def test_many_states_go_in_bounded_batches_over_one_pooled_client() -> None:
    uuids = [f"job-{i}" for i in range(600)]
    with respx.mock:
        route = respx.post(URL).mock(side_effect=processing)
        hook = RunwareHook()
        client = hook.get_conn()
        states = hook.get_task_states(uuids)
        assert hook.get_conn() is client
    assert set(states) == set(uuids)
    assert [len(json.loads(c.request.content)) for c in route.calls] == [250, 250, 100]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"errors": [{"code": "internalServerError", "message": "boom"}]}),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(503),
        httpx.Response(200, text='{"data": [{"taskUU'),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["500", "502-html", "503", "malformed", "connect", "read-timeout", "reset"],
)
def test_transient_faults_are_retried_until_success(failure: Any) -> None:
    answers = [failure, failure]
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[*answers, processing])
        state = RunwareHook().get_task_state(UUID)
    assert state.status == "processing"
    assert route.call_count == 3


def test_retries_stop_after_max_attempts() -> None:
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(503))
        with pytest.raises(RunwareTransientError):
            RunwareHook().get_task_state(UUID)
    assert route.call_count == 4


def test_429_waits_for_retry_after() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "0.3"},
        json={"errors": [{"code": "rateLimitExceeded", "message": "slow down"}]},
    )
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[limited, processing])
        started = time.monotonic()
        RunwareHook().get_task_state(UUID)
        waited = time.monotonic() - started
    assert route.call_count == 2
    assert waited >= 0.3


@pytest.mark.parametrize(
    ("status", "error", "exc"),
    [
        (
            401,
            {"code": "invalidApiKey", "message": "Invalid API key", "parameter": "apiKey"},
            RunwareAuthError,
        ),
        (402, {"code": "insufficientCredits", "message": "Top up"}, RunwareInsufficientCreditsError),
        (
            400,
            {
                "code": "invalidParameter",
                "message": "bad syncMode",
                "parameter": "providerSettings.sync.syncMode",
                "taskUUID": UUID,
            },
            RunwareAPIError,
        ),
    ],
)
def test_permanent_errors_are_raised_at_once_with_runwares_fields(
    status: int, error: dict[str, Any], exc: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    task = {"taskType": "videoInference", "taskUUID": UUID, "model": "sync:lipsync-2@1"}
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(status, json={"errors": [error]}))
        with pytest.raises(exc) as raised:
            RunwareHook().submit_task(task)
    assert route.call_count == 1
    err: Any = raised.value
    assert (err.code, err.message, err.parameter) == (error["code"], error["message"], error.get("parameter"))
    assert err.status_code == status
    assert error["message"] in str(err)
    assert KEY not in str(err)
    assert KEY not in caplog.text


def test_conflict_task_uuid_as_runware_answers_it_is_an_acknowledgement() -> None:
    # HTTP 400, empty data: a third-party app's mocked answer (aflowai/aflow), not a recorded one;
    # whatever the status, the code decides.
    conflict = {"data": [], "errors": [{"code": "conflictTaskUUID", "message": "used", "taskUUID": UUID}]}
    with respx.mock:
        respx.post(URL).mock(return_value=httpx.Response(400, json=conflict))
        ack = RunwareHook().submit_task({"taskType": "videoInference", "taskUUID": UUID})
    assert ack == {"taskUUID": UUID, "duplicate": True}


def test_a_504_then_conflict_on_the_retry_is_an_acknowledgement_not_a_failure() -> None:
    conflict = {"data": [], "errors": [{"code": "conflictTaskUUID", "message": "used", "taskUUID": UUID}]}
    with respx.mock:
        route = respx.post(URL).mock(
            side_effect=[httpx.Response(504, text="gateway timeout"), httpx.Response(400, json=conflict)]
        )
        ack = RunwareHook().submit_task({"taskType": "videoInference", "taskUUID": UUID})
    assert ack["duplicate"] is True
    assert route.call_count == 2


def not_found(request: httpx.Request) -> httpx.Response:
    [task] = json.loads(request.content)
    error = {"code": "taskFailedOrNotFound", "message": "?", "taskUUID": task["taskUUID"]}
    return httpx.Response(400, json={"data": [], "errors": [error]})


@pytest.mark.parametrize(
    "answer",
    [not_found, lambda request: httpx.Response(200, json={"data": []})],
    ids=["taskFailedOrNotFound", "no-item"],
)
def test_test_connection_says_the_key_was_accepted(answer: Any) -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=answer)
        ok, message = RunwareHook().test_connection()
        RunwareHook().test_connection()
    assert ok
    assert message == f"Connected to {URL}: Runware accepted the API key."
    # Runware documents taskUUIDs as UUID v4: each probe asks about a fresh random one.
    probes = [json.loads(c.request.content)[0]["taskUUID"] for c in route.calls]
    assert [uuid.UUID(p).version for p in probes] == [4, 4]
    assert probes[0] != probes[1]


def test_test_connection_names_a_refused_key() -> None:
    with respx.mock:
        respx.post(URL).mock(
            return_value=httpx.Response(401, json={"errors": [{"code": "invalidApiKey", "message": "no"}]})
        )
        ok, message = RunwareHook().test_connection()
    assert not ok
    assert message.startswith("Runware refused the API key")
    assert "invalidApiKey" in message


def test_test_connection_tries_once_with_a_short_timeout_when_runware_is_down() -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
        ok, message = RunwareHook().test_connection()
    assert not ok
    assert route.call_count == 1  # no retry, so no backoff: the answer comes at once (counted, not timed)
    assert message.startswith(f"Could not reach Runware at {URL}")
    timeout = route.calls[0].request.extensions["timeout"]
    assert timeout["read"] <= 10


def test_test_connection_without_a_key_does_not_name_the_throwaway_connection_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The UI tests a copy of the form under a random id: naming it would only confuse.
    monkeypatch.setenv("AIRFLOW_CONN_TMP8F3K2", json.dumps({"conn_type": "runware", "host": URL}))
    ok, message = RunwareHook("tmp8f3k2").test_connection()
    assert not ok
    assert "tmp8f3k2" not in message
    assert "no API key" in message


def test_downloads_never_carry_the_key(tmp_path: Any) -> None:
    with respx.mock:
        route = respx.get("https://cdn.test/v.mp4").mock(
            return_value=httpx.Response(200, content=b"x" * 1000)
        )
        size = RunwareHook().download("https://cdn.test/v.mp4", str(tmp_path / "out" / "v.mp4"))
    assert size == 1000
    assert (tmp_path / "out" / "v.mp4").read_bytes() == b"x" * 1000
    assert "authorization" not in route.calls.last.request.headers


async def test_async_calls_retry_and_batch_the_same_way() -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[httpx.Response(503), processing, processing, processing])
        hook = RunwareHook()
        state = await hook.aget_task_state(UUID)
        states = await hook.aget_task_states(["a", "b", "c"])
        ack = await hook.asubmit_task({"taskType": "videoInference", "taskUUID": "x"})
        await hook.aclose()
    assert state.status == "processing"
    assert set(states) == {"a", "b", "c"}
    assert ack["taskUUID"] == "x"
    assert route.call_count == 4


async def test_the_async_path_never_uses_the_sync_client(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sync client used in async code")

    monkeypatch.setattr(httpx.Client, "send", forbidden)
    with respx.mock:
        respx.post(URL).mock(side_effect=processing)
        hook = RunwareHook()
        assert (await hook.aget_task_state(UUID)).status == "processing"
        await hook.aclose()


def test_the_connection_form_labels_and_hides_fields() -> None:
    from airflow_provider_sync.get_provider_info import get_provider_info

    behaviour = RunwareHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert set(behaviour["hidden_fields"]) == {"schema", "login", "port", "extra"}
    assert behaviour["placeholders"]["host"] == DEFAULT_BASE_URL
    [conn_type] = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == RunwareHook.conn_type == "runware"
    declared = conn_type["ui-field-behaviour"]
    assert declared["relabeling"] == behaviour["relabeling"]
    assert sorted(declared["hidden-fields"]) == sorted(behaviour["hidden_fields"])
    assert conn_type["conn-fields"]["timeout"]["label"].startswith("Request timeout")


def test_airflow_serves_the_declared_connection_form() -> None:
    # Airflow 3.2+ serves the provider info's declarations; 2.11 (and 3.0/3.1 with Flask
    # AppBuilder) the hook's widgets: either way the same fields, labels and placeholders.
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_sync.connection_form import CONN_FIELDS

    manager = ProvidersManager()
    widget = manager.connection_form_widgets.get("extra__runware__timeout")
    if widget is None:
        pytest.skip("this Airflow draws the form from Flask widgets, and Flask AppBuilder is not installed")
    if isinstance(widget.field, dict):  # declared conn-fields
        label, description = widget.field["schema"]["title"], widget.field["description"]
    else:  # a wtforms field made by the hook
        label, description = str(widget.field.args[0]), widget.field.kwargs["description"]
    assert (label, description) == (CONN_FIELDS["timeout"]["label"], CONN_FIELDS["timeout"]["description"])
    behaviour = manager.field_behaviours["runware"]
    assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert sorted(behaviour["hidden_fields"]) == ["extra", "login", "port", "schema"]
    assert behaviour["placeholders"]["extra__runware__timeout"] == "60"


@pytest.mark.parametrize(
    ("field", "typed", "accepted"),
    [
        ("timeout", "", True),
        ("timeout", " 2.5 ", True),
        ("timeout", "0.1", True),
        ("timeout", "0.05", False),
        ("timeout", "3601", False),
        ("timeout", "soon", False),
        ("timeout", "nan", False),
        ("max_attempts", "3", True),
        ("max_attempts", "2.5", False),
        ("max_attempts", "0", False),
        ("retry_min_wait", "0", True),
        ("retry_max_wait", "-1", False),
    ],
)
def test_the_flask_form_takes_what_airflow_3_s_schema_takes(field: str, typed: str, accepted: bool) -> None:
    pytest.importorskip("flask_appbuilder", reason="Airflow 2's connection form (Flask AppBuilder)")
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from airflow_provider_sync.connection_form import CONN_FIELDS

    widgets = RunwareHook.get_connection_form_widgets()
    assert sorted(widgets) == sorted(CONN_FIELDS)  # the same inputs as Airflow 3's form
    form_class = type("ConnectionForm", (Form,), dict(widgets))
    form = form_class(formdata=MultiDict({field: typed}))
    assert form.validate() is accepted, form.errors
    if not accepted:
        [message] = form.errors[field]
        assert field in message  # names the field and its limits, as the hook's check does
