"""A trigger ends by its own deadline, whatever the shared batch's request is doing; a poll
that asks for a short delay is not held for the batch window; ``timeout`` is in seconds."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.hooks.batch_poller import BatchPoller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger
from tests.hooks.trickle import TrickleServer

URL = "http://trigger-deadline.test/v1"


def connect(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> None:
    value = {"conn_type": "runware", "host": url, "password": "k", "extra": {"retry_min_wait": 0.01, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))


async def first_event(trigger: RunwareTaskTrigger) -> dict[str, Any]:
    run: AsyncIterator[Any] = trigger.run()
    try:
        event = await asyncio.wait_for(run.__anext__(), timeout=60)
    finally:
        await run.aclose()  # type: ignore[attr-defined]
    return dict(event.payload)


async def test_triggers_sharing_a_trickling_batch_each_end_by_their_own_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with TrickleServer(gap=0.1) as server:
        # The batch's request may take five minutes: only the triggers' own deadlines can end it.
        connect(monkeypatch, server.url, timeout=300, max_attempts=1)
        started = time.time()
        triggers = [
            RunwareTaskTrigger(
                task_uuid=f"job-{n}",
                poll_interval=0.2,
                first_poll_delay=0,
                started=started,
                deadline=started + 1 + n / 2,
            )
            for n in range(2)
        ]
        events = await asyncio.gather(*(first_event(t) for t in triggers))
        assert not server.complete.is_set()  # the batch was still trickling when both ended
        assert server.requests >= 1
    assert [e["status"] for e in events] == ["timeout", "timeout"]
    assert [e["task_uuid"] for e in events] == ["job-0", "job-1"]


async def test_a_poll_with_a_short_max_delay_that_joins_a_pending_batch_is_sent_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, URL)
    bodies: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        bodies.append([t["taskUUID"] for t in tasks])
        return httpx.Response(
            200, json={"data": [{"taskUUID": t["taskUUID"], "status": "processing"} for t in tasks]}
        )

    # A one-hour window: the batch pending below would wait up to an hour on its own.
    poller = BatchPoller(lambda: RunwareHook("runware_default"), window=3600)
    poller.acquire()
    try:
        with respx.mock:
            respx.post(URL).mock(side_effect=handler)
            patient = asyncio.ensure_future(poller.get_state("patient"))
            await asyncio.sleep(0)  # the patient poll is pending, its flush an hour away
            assert not patient.done()
            quick = await asyncio.wait_for(poller.get_state("quick", max_delay=0.01), timeout=30)
            assert quick.status == "processing"
            assert (await asyncio.wait_for(patient, timeout=30)).status == "processing"
    finally:
        await poller.release()
    assert bodies == [["patient", "quick"]]  # the short delay brought the whole batch forward


async def test_the_deadline_counts_the_operator_s_timeout_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, URL)
    polls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        polls.append(time.time())
        tasks = json.loads(request.content)
        return httpx.Response(
            200, json={"data": [{"taskUUID": t["taskUUID"], "status": "processing"} for t in tasks]}
        )

    timeout = 1.5  # seconds, as the operator's ``timeout``; the operator defers with started + timeout
    started = time.time()
    trigger = RunwareTaskTrigger(
        task_uuid="job-seconds",
        poll_interval=0.2,
        first_poll_delay=0,
        started=started,
        deadline=started + timeout,
    )
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        event = await first_event(trigger)
    assert event["status"] == "timeout"
    # Read as milliseconds the wait would end before any poll; as minutes, not within the
    # test's bound above. In seconds: polls every 0.2 s for 1.5 s, then the timeout.
    assert len(polls) >= 2
    assert event["elapsed"] >= timeout
    assert event["polls"] >= 2
