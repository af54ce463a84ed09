"""A server that echoes the request must not get the key onto a screen or into a file.

``test_connection`` answers in its own words with Runware's code; ``live_check`` redacts
every form of the key from what it records and only sends the key where the user agreed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx

from airflow_provider_sync import live_check
from airflow_provider_sync.hooks.runware import RunwareHook

KEY = "sk-echo/7f3a+b=9"
URL = "https://echo.test/v1"


def forms(key: str) -> list[str]:
    """The spellings of the key a leak could take."""
    return [
        key,
        quote(key, safe=""),
        json.dumps(key)[1:-1],
        base64.b64encode(key.encode()).decode().rstrip("="),
        base64.b64encode(f"Bearer {key}".encode()).decode().rstrip("="),
    ]


def echo(status: int) -> Any:
    """A server that puts the request's Authorization header everywhere it can."""

    def answer(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        key = header.removeprefix("Bearer ")
        blob = base64.b64encode(header.encode()).decode()
        error = {
            "code": f"bad{key}",
            "message": f"you sent {header} ({quote(key, safe='')}, {blob}, {json.dumps(key)})",
            "parameter": header,
        }
        return httpx.Response(status, json={"errors": [error], "echo": {"headers": dict(request.headers)}})

    return answer


@pytest.mark.parametrize("status", [401, 400, 503])
def test_test_connection_never_repeats_what_the_server_said(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    conn = {"conn_type": "runware", "host": URL, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_ECHO", json.dumps(conn))
    with respx.mock:
        respx.post(URL).mock(side_effect=echo(status))
        ok, message = RunwareHook("runware_echo").test_connection()
    assert not ok
    assert not any(f in message for f in forms(KEY)), message
    assert "you sent" not in message  # the server's words are not ours
    assert f"HTTP {status}" in message
    assert len(message) < 300


def test_test_connection_shows_runware_s_code_in_its_own_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "runware", "host": URL, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_ECHO", json.dumps(conn))
    refusal = {"errors": [{"code": "invalidApiKey", "message": f"key {KEY} is not valid"}]}
    with respx.mock:
        respx.post(URL).mock(return_value=httpx.Response(401, json=refusal))
        ok, message = RunwareHook("runware_echo").test_connection()
    assert (ok, message) == (False, "Runware refused the API key (code invalidApiKey, HTTP 401).")


def test_live_check_records_an_echoing_server_s_answers_without_the_key(tmp_path: Path) -> None:
    with respx.mock:
        respx.post(URL).mock(side_effect=echo(400))
        recorder = live_check.Recorder(URL, KEY, tmp_path)
        try:
            live_check.free_checks(recorder)
        finally:
            recorder.client.close()
    written = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert len(list(tmp_path.glob("*.json"))) == 3
    assert live_check.REDACTED in written
    for form in forms(KEY):
        assert form not in written
        assert form not in json.dumps(
            json.loads("[" + ",".join(p.read_text() for p in tmp_path.glob("*.json")) + "]")
        )


def test_live_check_redacts_a_key_the_server_escaped_in_its_json(tmp_path: Path) -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)  # valid JSON for the same text
    raw = ('{"errors": [{"code": "x", "message": "' + escaped + '"}]}').encode()
    with respx.mock:
        respx.post(URL).mock(return_value=httpx.Response(400, content=raw))
        recorder = live_check.Recorder(URL, KEY, tmp_path)
        try:
            recorder.ask("escaped", [{"taskType": "getResponse", "taskUUID": "u"}])
        finally:
            recorder.client.close()
    record = json.loads((tmp_path / "live-escaped.json").read_text())
    assert record["body"]["errors"][0]["message"] == live_check.REDACTED
    assert KEY not in json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize(
    ("base_url", "confirmed", "allowed"),
    [
        ("https://api.runware.ai/v1", None, True),
        ("https://eu.api.runware.ai/v1", None, True),
        ("http://api.runware.ai/v1", "http://api.runware.ai/v1", False),  # never in clear text
        ("http://10.0.0.5/v1", "http://10.0.0.5/v1", False),
        ("http://127.0.0.1:8765/v1", None, False),  # a local process is not Runware either
        ("http://127.0.0.1:8765/v1", "http://127.0.0.1:8765/v1", True),
        ("http://[::1]:8765/v1", "http://[::1]:8765/v1", True),
        ("https://proxy.example/v1", None, False),
        ("https://proxy.example/v1", "https://proxy.example/other", False),
        ("https://proxy.example/v1", "https://proxy.example/v1/", True),
        ("https://api.runware.ai.evil.example/v1", None, False),
        ("https://user:pw@api.runware.ai/v1", None, False),
        ("ftp://api.runware.ai/v1", None, False),
    ],
)
def test_where_live_check_sends_the_key(base_url: str, confirmed: str | None, allowed: bool) -> None:
    assert (live_check.check_base_url(base_url, confirmed) is None) is allowed


def test_live_check_refuses_before_sending_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", KEY)
    with respx.mock:
        route = respx.post("http://runware.lan/v1").mock(return_value=httpx.Response(200, json={"data": []}))
        code = live_check.main(["--base-url", "http://runware.lan/v1", "--out", str(tmp_path)])
    assert code == 2
    assert route.call_count == 0
    assert "Not sending your key" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
