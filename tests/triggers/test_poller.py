"""The shared batching poller and the poll schedule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
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
from airflow_provider_sync.hooks import batch_poller as poller_mod
from airflow_provider_sync.hooks.batch_poller import BatchPoller, poller_for, release_poller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.job_watch import PollSchedule, estimate_render_time, first_poll_delay

URL = "http://poller.test/v1"


@pytest.fixture(autouse=True)
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"conn_type": "runware", "host": URL, "password": "k", "extra": {"retry_min_wait": 0.01}}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(value))


def answer(request: httpx.Request, status: str = "processing") -> httpx.Response:
    tasks = json.loads(request.content)
    return httpx.Response(200, json={"data": [{"taskUUID": t["taskUUID"], "status": status} for t in tasks]})


MakePoller = Callable[..., BatchPoller]


@pytest.fixture
async def make_poller() -> AsyncIterator[MakePoller]:
    """Pollers for one test, each acquired once and released (its client closed) at the end."""
    made: list[BatchPoller] = []

    def make(window: float = 0.05, max_batch: int = 250) -> BatchPoller:
        poller = BatchPoller(lambda: RunwareHook("runware_default"), window=window, max_batch=max_batch)
        poller.acquire()
        made.append(poller)
        return poller

    yield make
    for poller in made:
        if poller.users > 0:
            assert await poller.release()
        assert poller.hook._async_client is None  # the pooled client was closed


async def test_concurrent_polls_share_one_request_and_each_gets_its_own_state(
    make_poller: MakePoller,
) -> None:
    bodies: list[list[dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        bodies.append(tasks)
        data = [
            {"taskUUID": t["taskUUID"], "status": "success", "videoURL": f"v/{t['taskUUID']}"} for t in tasks
        ]
        return httpx.Response(200, json={"data": data})

    poller = make_poller()
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        states = await asyncio.gather(*(poller.get_state(f"job-{i}") for i in range(120)))
    assert len(bodies) == 1
    assert [t["taskUUID"] for t in bodies[0]] == [f"job-{i}" for i in range(120)]
    assert [s.result["videoURL"] for s in states if s.result] == [f"v/job-{i}" for i in range(120)]


async def test_batches_are_bounded(make_poller: MakePoller) -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)))
        return answer(request)

    poller = make_poller(max_batch=40)
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        await asyncio.gather(*(poller.get_state(f"j{i}") for i in range(100)))
    assert sorted(sizes) == [20, 40, 40]


async def test_a_cancelled_poll_leaves_the_batch(make_poller: MakePoller) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.extend(t["taskUUID"] for t in json.loads(request.content))
        return answer(request)

    poller = make_poller(window=0.2)
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        keep = [asyncio.ensure_future(poller.get_state(u)) for u in ("a", "b")]
        gone = asyncio.ensure_future(poller.get_state("c"))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(*keep)
    assert sorted(seen) == ["a", "b"]
    assert gone.cancelled()


async def test_a_refused_batch_falls_back_to_smaller_ones(make_poller: MakePoller) -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        sizes.append(len(tasks))
        if len(tasks) > 2:
            return httpx.Response(
                400, json={"errors": [{"code": "tooManyTasks", "message": "max 2 per request"}]}
            )
        return answer(request, "success")

    poller = make_poller()
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        states = await asyncio.gather(*(poller.get_state(f"j{i}") for i in range(8)))
    assert all(s.status == "success" for s in states)
    assert poller.stats.batch_rejections >= 1
    assert poller.max_batch == 2
    assert sizes[0] == 8
    assert max(sizes[1:]) <= 4


async def test_one_odd_answer_fails_only_its_own_poll(make_poller: MakePoller) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        data = [
            {"taskUUID": t["taskUUID"], "status": "weird" if t["taskUUID"] == "odd" else "processing"}
            for t in tasks
        ]
        return httpx.Response(200, json={"data": data})

    poller = make_poller()
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        results = await asyncio.gather(
            poller.get_state("fine"), poller.get_state("odd"), return_exceptions=True
        )
    assert getattr(results[0], "status", None) == "processing"
    assert isinstance(results[1], RunwareTransientError)


async def test_max_delay_lets_a_fast_poller_skip_the_window(make_poller: MakePoller) -> None:
    poller = make_poller(window=5.0)
    with respx.mock:
        respx.post(URL).mock(side_effect=answer)
        # Bounded well below the 5 s window, and far above any machine's scheduling delay.
        state = await asyncio.wait_for(poller.get_state("quick", max_delay=0.01), timeout=3.0)
    assert state.status == "processing"


async def test_triggers_in_one_loop_share_a_poller_and_the_last_one_closes_it() -> None:
    a = poller_for("runware_default")
    b = poller_for("runware_default")
    assert a is b
    with respx.mock:
        respx.post(URL).mock(side_effect=answer)
        await a.get_state("x", max_delay=0)
    client = a.hook._async_client
    assert client is not None
    await release_poller("runware_default", a)
    assert not client.is_closed
    await release_poller("runware_default", b)
    assert client.is_closed
    assert not poller_mod.active_pollers()


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "invalidApiKey", RunwareAuthError),
        (402, "insufficientCredits", RunwareInsufficientCreditsError),
    ],
    ids=["refused-key", "no-credit"],
)
async def test_an_account_refusal_fails_every_poll_alike_and_does_not_shrink_the_batch(
    make_poller: MakePoller, status: int, code: str, error: type[Exception]
) -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)))
        return httpx.Response(status, json={"data": [], "errors": [{"code": code, "message": "no"}]})

    poller = make_poller()
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        results = await asyncio.gather(*(poller.get_state(f"j{i}") for i in range(6)), return_exceptions=True)
    assert all(isinstance(r, error) and r.code == code for r in results), results
    assert sizes == [6]  # one request: the refusal is about the account, not about one task
    assert poller.max_batch == 250
    assert (poller.stats.batch_rejections, poller.stats.isolated_refusals) == (0, 0)


async def test_a_refusal_pinned_on_one_task_fails_only_that_poll_and_keeps_the_batch_size(
    make_poller: MakePoller,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)
        if any(t["taskUUID"] == "bad" for t in tasks):
            return httpx.Response(400, json={"errors": [{"code": "invalidTaskUUID", "message": "bad uuid"}]})
        return answer(request, "success")

    poller = make_poller()
    uuids = [f"j{i}" for i in range(7)] + ["bad"]
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        results = await asyncio.gather(*(poller.get_state(u) for u in uuids), return_exceptions=True)
    assert [getattr(r, "status", None) for r in results[:-1]] == ["success"] * 7
    assert isinstance(results[-1], RunwareAPIError)
    assert results[-1].code == "invalidTaskUUID"
    assert poller.stats.isolated_refusals == 1
    assert poller.max_batch == 250


async def test_a_shrunken_batch_limit_grows_back_after_full_batches_are_answered(
    make_poller: MakePoller,
) -> None:
    limit = [2]

    def handler(request: httpx.Request) -> httpx.Response:
        if len(json.loads(request.content)) > limit[0]:
            return httpx.Response(400, json={"errors": [{"code": "tooManyTasks", "message": "too many"}]})
        return answer(request)

    poller = make_poller(max_batch=8)
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        await asyncio.gather(*(poller.get_state(f"a{i}") for i in range(8)))
        assert poller.max_batch == 2
        limit[0] = 1000  # Runware takes big batches again
        for n in range(poller_mod.RECOVER_AFTER):
            await asyncio.gather(*(poller.get_state(f"b{n}-{i}") for i in range(2)))
            expected = 4 if n == poller_mod.RECOVER_AFTER - 1 else 2
            assert poller.max_batch == expected, n
        for n in range(2 * poller_mod.RECOVER_AFTER):
            await asyncio.gather(*(poller.get_state(f"c{n}-{i}") for i in range(poller.max_batch)))
    assert poller.max_batch == 8  # back to its ceiling, never above


async def test_a_recovering_batch_limit_never_grows_past_its_ceiling(make_poller: MakePoller) -> None:
    refuse = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        if refuse[0] and len(json.loads(request.content)) > 2:
            return httpx.Response(400, json={"errors": [{"code": "tooManyTasks", "message": "too many"}]})
        return answer(request)

    poller = make_poller(max_batch=10)  # not a power of two: doubling back overshoots it
    seen: list[int] = []
    with respx.mock:
        respx.post(URL).mock(side_effect=handler)
        await asyncio.gather(*(poller.get_state(f"a{i}") for i in range(10)))
        assert poller.max_batch < 10
        refuse[0] = False
        for n in range(40):  # full batches until the limit is back where it started
            await asyncio.gather(*(poller.get_state(f"b{n}-{i}") for i in range(poller.max_batch)))
            seen.append(poller.max_batch)
    assert max(seen) == seen[-1] == 10


def test_poll_schedule_waits_the_first_delay_from_the_start_then_ramps() -> None:
    schedule = PollSchedule(poll_interval=10.0, first_delay=30.0, started=1000.0, ramp=True)
    assert schedule.next_delay(now=1005.0) == 25.0  # e.g. rebuilt 5 s after submission
    delays = [schedule.next_delay(now=2000.0) for _ in range(6)]
    assert delays == [2.5, 3.75, 5.625, 8.4375, 10.0, 10.0]
    flat = PollSchedule(poll_interval=10.0, first_delay=10.0, started=0.0)
    assert [flat.next_delay(now=0.0) for _ in range(3)] == [10.0, 10.0, 10.0]


def test_first_poll_delay_follows_the_expected_render_time() -> None:
    assert first_poll_delay(10.0, None) == (10.0, False)
    assert first_poll_delay(10.0, 100.0) == (60.0, True)
    assert first_poll_delay(10.0, 0.5) == (1.0, True)
    speech = {"inputs": {"speech": [{"text": "x" * 150}]}}
    assert estimate_render_time(speech) == pytest.approx(20.0)
    assert estimate_render_time({"inputs": {"audio": [{"id": "a", "source": "s"}]}}) is None
