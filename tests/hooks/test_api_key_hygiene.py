"""The API key as secrets backends deliver it: trimmed, checked, masked in every form."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import RunwareAuthError, RunwareTransientError
from airflow_provider_sync.hooks.runware import RunwareHook

URL = "http://hygiene.test/v1"
KEY = "sk-hygiene-7c1e"


def use_key(monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    conn = {"conn_type": "runware", "host": URL, "password": password, "extra": {"max_attempts": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))


def test_a_key_with_a_trailing_newline_is_sent_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    use_key(monkeypatch, f"  {KEY}\n")
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(200, json={"data": []}))
        RunwareHook().get_task_state("00000000-0000-0000-0000-000000000001")
    assert route.calls[0].request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("bad", [f"{KEY}\x00x", f"{KEY}é", f"sk-in ner-{KEY}", f"{KEY}\tz"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    use_key(monkeypatch, bad)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        with pytest.raises(RunwareAuthError) as raised:
            RunwareHook().get_task_state("00000000-0000-0000-0000-000000000001")
    assert not route.called
    assert KEY not in str(raised.value)
    assert raised.value.code == "invalidApiKeyCharacters"


def test_every_form_of_the_key_is_registered_with_the_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[str] = []
    monkeypatch.setattr(
        "airflow_provider_sync._compat.mask_secret", lambda value, *a, **k: registered.append(value)
    )
    use_key(monkeypatch, f"{KEY}/+\n")
    assert RunwareHook().settings.api_key == f"{KEY}/+"
    strings = {r for r in registered if isinstance(r, str)}
    assert {f"{KEY}/+\n", f"{KEY}/+", "sk-hygiene-7c1e%2F%2B", f"Bearer {KEY}/+"} <= strings


def test_transport_errors_never_carry_httpx_s_text_which_may_quote_headers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_key(monkeypatch, KEY)
    with respx.mock:
        respx.post(URL).mock(side_effect=httpx.LocalProtocolError(f"Illegal header value b'Bearer {KEY}'"))
        with caplog.at_level(logging.DEBUG), pytest.raises(RunwareTransientError) as raised:
            RunwareHook().get_task_state("00000000-0000-0000-0000-000000000001")
    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert KEY not in caplog.text


def test_the_triggerer_masks_the_key_without_a_blocking_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # mask_secret tells the supervisor synchronously; on the triggerer's loop that can block
    # (or deadlock) every trigger, so the async path must use the async registration.
    import asyncio

    from airflow_provider_sync import _compat

    def on_the_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread: blocking there stalls no trigger
            return False
        return True

    def blocking(value: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("the synchronous mask_secret was called inside the event loop")

    registered: list[object] = []

    async def non_blocking(value: object) -> None:
        registered.append(value)

    monkeypatch.setattr(_compat, "mask_secret", blocking)
    monkeypatch.setattr(_compat, "amask_secret", non_blocking)
    # Connection.extra_dejson masks the extras with the synchronous call too: in a worker
    # thread it may (releases without an asynchronous form), on the loop it must not.
    real_extra_dejson = _compat.Connection.extra_dejson

    def extra_dejson(conn: object) -> object:
        if on_the_loop():
            raise AssertionError("Connection.extra_dejson was read inside the event loop")
        return real_extra_dejson.fget(conn)

    monkeypatch.setattr(_compat.Connection, "extra_dejson", property(extra_dejson))
    conn = {"conn_type": "runware", "host": URL, "password": f"{KEY}\n", "extra": {"timeout": 7}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    settings = asyncio.run(RunwareHook().asettings())
    assert settings.api_key == KEY
    assert settings.timeout == 7
    assert {f"{KEY}\n", KEY, f"Bearer {KEY}"} <= set(registered)
