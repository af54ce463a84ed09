"""Every hook request ends by a total deadline, however slowly Runware's answer comes.

The trickling server sends one byte every 0.1 s: its answer would take minutes. Each test
asserts that the client gave up (the server saw it hang up before the answer was complete),
not how long anything took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import RunwareTransientError
from airflow_provider_sync.hooks.runware import RunwareHook
from tests.hooks.trickle import TrickleServer

UUID = "0b6f9a52-8c1d-4e7f-9a2b-3c4d5e6f7a8b"


def connect(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> None:
    extra = {"retry_min_wait": 0.01, "retry_max_wait": 0.02, "max_attempts": 1, **extra}
    value = {"conn_type": "runware", "host": url, "password": "k-deadline", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer(gap=0.1) as server:
        yield server


def test_a_trickling_answer_is_cut_off_at_the_connection_s_timeout(
    trickle: TrickleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, trickle.url, timeout=1)
    hook = RunwareHook()
    try:
        with pytest.raises(RunwareTransientError) as raised:
            hook.get_task_state(UUID)
    finally:
        hook.close()
    assert raised.value.code == "timeout"
    assert trickle.hung_up.wait(10)
    assert not trickle.complete.is_set()


def test_a_caller_s_deadline_shorter_than_the_timeout_wins(
    trickle: TrickleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, trickle.url, timeout=600, max_attempts=5)
    hook = RunwareHook()
    try:
        with pytest.raises(RunwareTransientError):
            hook.get_task_state(UUID, deadline=time.time() + 1)
    finally:
        hook.close()
    assert trickle.hung_up.wait(10)
    assert not trickle.complete.is_set()
    # No retry could start before the deadline, so the answer was asked for once.
    assert trickle.requests == 1


async def test_the_async_path_bounds_the_whole_exchange_too(
    trickle: TrickleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, trickle.url, timeout=1)
    hook = RunwareHook()
    try:
        with pytest.raises(RunwareTransientError) as raised:
            await hook.aget_task_state(UUID)
    finally:
        await hook.aclose()
    assert raised.value.code == "timeout"
    assert trickle.hung_up.wait(10)
    assert not trickle.complete.is_set()


async def test_an_async_caller_s_deadline_wins_as_well(
    trickle: TrickleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, trickle.url, timeout=600, max_attempts=5)
    hook = RunwareHook()
    try:
        with pytest.raises(RunwareTransientError):
            await hook.aget_task_states([UUID, "other"], deadline=time.time() + 1)
    finally:
        await hook.aclose()
    assert trickle.hung_up.wait(10)
    assert trickle.requests == 1


class _Trickle(httpx.SyncByteStream):
    """A mocked body that sleeps between bytes and counts what was read of it."""

    def __init__(self, body: bytes, gap: float) -> None:
        self.body, self.gap, self.read = body, gap, 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(len(self.body)):
            time.sleep(self.gap)
            self.read += 1
            yield self.body[i : i + 1]


def test_the_clock_is_checked_between_chunks_of_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "http://mock.deadline.test/v1", timeout=0.5)
    body = json.dumps({"data": [{"taskUUID": UUID, "status": "processing"}]}).encode() + b" " * 5000
    stream = _Trickle(body, gap=0.02)
    with respx.mock:
        respx.post("http://mock.deadline.test/v1").mock(return_value=httpx.Response(200, stream=stream))
        with pytest.raises(RunwareTransientError):
            RunwareHook().get_task_state(UUID)
    assert 0 < stream.read < len(body)


def test_no_retry_starts_when_its_wait_would_outlast_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "http://mock.deadline.test/v1", max_attempts=5, retry_min_wait=30, retry_max_wait=60)
    with respx.mock:
        route = respx.post("http://mock.deadline.test/v1").mock(return_value=httpx.Response(503))
        with pytest.raises(RunwareTransientError) as raised:
            RunwareHook().get_task_state(UUID, deadline=time.time() + 5)
    assert route.call_count == 1
    assert raised.value.status_code == 503


def test_without_a_deadline_retries_go_on_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "http://mock.deadline.test/v1", max_attempts=3)
    with respx.mock:
        route = respx.post("http://mock.deadline.test/v1").mock(return_value=httpx.Response(503))
        with pytest.raises(RunwareTransientError):
            RunwareHook().get_task_state(UUID)
    assert route.call_count == 3


def test_an_answer_larger_than_any_real_one_is_not_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "http://mock.deadline.test/v1")

    class Endless(httpx.SyncByteStream):
        read = 0

        def __iter__(self) -> Iterator[bytes]:
            while True:
                Endless.read += 1
                yield b" " * 2**20

    with respx.mock:
        respx.post("http://mock.deadline.test/v1").mock(return_value=httpx.Response(200, stream=Endless()))
        with pytest.raises(RunwareTransientError) as raised:
            RunwareHook().get_task_state(UUID)
    assert raised.value.code == "answerTooLarge"
    assert Endless.read <= 17
