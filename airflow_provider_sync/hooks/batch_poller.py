"""One shared, batching ``getResponse`` poller per connection and event loop.

A triggerer runs thousands of triggers in one event loop. Polling each job with its own
request (and its own client) costs one HTTP round trip per job per cycle. Here every trigger
on the same connection hands its poll to a :class:`BatchPoller`, which holds the polls that
arrive within one short *window* and sends them together: one POST carries up to
``max_batch`` ``getResponse`` tasks (Runware's API takes an array of tasks), over one pooled
:class:`httpx.AsyncClient`. Each trigger gets back the state of its own job.

Windows are aligned to a fixed grid (``window`` seconds), so triggers with the same poll
interval fall into the same windows cycle after cycle, whatever their start times.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareTransientError,
)
from airflow_provider_sync.hooks.runware import MAX_TASKS_PER_REQUEST, RunwareHook, get_response_task
from airflow_provider_sync.protocol import TaskState, read_batch, request_error

#: Seconds of the alignment grid: polls are delayed by at most this much to share a request.
DEFAULT_WINDOW = 0.5
#: Upper bound on ``getResponse`` tasks per POST.
DEFAULT_MAX_BATCH = MAX_TASKS_PER_REQUEST
#: Full batches answered in a row before a shrunken batch limit doubles again.
RECOVER_AFTER = 3

log = logging.getLogger(__name__)


@dataclass
class PollerStats:
    """Counters for benchmarks and tests."""

    requests: int = 0
    polls: int = 0
    batch_rejections: int = 0
    isolated_refusals: int = 0
    largest_batch: int = 0
    #: Tasks a batched answer left out, asked about alone.
    asked_alone: int = 0


class BatchPoller:
    """Coalesces ``getResponse`` polls for one connection in one event loop.

    Use :func:`poller_for` to get the shared instance; call :meth:`release` when done.

    :param hook_factory: builds the hook (and so the one async client) this poller uses.
    :param window: grid step in seconds; polls wait for the next grid point.
    :param max_batch: most tasks per POST. A refusal that names no task splits the batch in
        halves until the refusal is pinned on the task(s) causing it; when every part is
        answered, the size itself was refused and the limit shrinks, growing back after
        :data:`RECOVER_AFTER` full batches are answered.
    """

    def __init__(
        self,
        hook_factory: Callable[[], RunwareHook],
        *,
        window: float = DEFAULT_WINDOW,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self._hook = hook_factory()
        self.window = window
        self.max_batch = max(1, max_batch)
        self._ceiling = self.max_batch
        self._successes_at_size = 0
        self.stats = PollerStats()
        self._pending: dict[str, list[asyncio.Future[TaskState]]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._flush_due = 0.0
        self._users = 0
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def users(self) -> int:
        """Triggers currently using this poller."""
        return self._users

    @property
    def hook(self) -> RunwareHook:
        """The hook whose async client every poll goes through."""
        return self._hook

    def acquire(self) -> None:
        """Register one more user (trigger)."""
        self._users += 1

    async def release(self) -> bool:
        """Unregister a user; close the client when the last one leaves. True if closed."""
        self._users -= 1
        if self._users > 0:
            return False
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        inflight = list(self._inflight)
        for task in inflight:
            task.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)
        await self._hook.aclose()
        return True

    async def get_state(self, task_uuid: str, max_delay: float | None = None) -> TaskState:
        """The state of one job, fetched in the next shared request.

        :param max_delay: wait at most this long for others to join (default: the window);
            a trigger polling every 0.1 s should not wait half a second for company.
        :raises RunwareError: what the request raised (after the hook's own retries).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TaskState] = loop.create_future()
        self._pending.setdefault(task_uuid, []).append(future)
        now = time.time()
        due = math.ceil(now / self.window) * self.window if self.window > 0 else now
        if max_delay is not None:
            due = min(due, now + max(0.0, max_delay))
        if self._flush is None or self._flush_due > due:
            if self._flush is not None:
                self._flush.cancel()
            self._flush_due = due
            self._flush = loop.call_later(max(0.0, due - now), self._start_flush)
        try:
            return await future
        finally:
            if future.cancelled() or not future.done():  # trigger cancelled: leave the batch
                waiters = self._pending.get(task_uuid)
                if waiters and future in waiters:
                    waiters.remove(future)
                    if not waiters:
                        del self._pending[task_uuid]

    def _start_flush(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        uuids = list(pending)
        for start in range(0, len(uuids), self.max_batch):
            chunk = {u: pending[u] for u in uuids[start : start + self.max_batch]}
            task = asyncio.get_running_loop().create_task(self._send(chunk))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _send(self, waiters: dict[str, list[asyncio.Future[TaskState]]]) -> None:
        uuids = list(waiters)
        try:
            states = await self._fetch(uuids)
        except asyncio.CancelledError:
            _fail(waiters, RunwareError("poller closed"))
            raise
        except Exception as exc:
            _fail(waiters, exc)
            return
        for u, futures in waiters.items():
            outcome = states.get(u) or RunwareTransientError(f"no answer about task {u}", task_uuid=u)
            for f in futures:
                if f.done():
                    continue
                if isinstance(outcome, TaskState):
                    f.set_result(outcome)
                else:
                    f.set_exception(outcome)

    async def _fetch(self, uuids: list[str]) -> dict[str, TaskState | Exception]:
        self.stats.requests += 1
        self.stats.polls += len(uuids)
        self.stats.largest_batch = max(self.stats.largest_batch, len(uuids))
        try:
            response = await self._hook.arun_tasks([get_response_task(u) for u in uuids])
        except RunwareAPIError as exc:
            refusal: RunwareError | None = exc
        else:
            refusal = request_error(response, uuids)
            if refusal is None:
                self._note_success(len(uuids))
                # One odd answer item must not fail the other jobs of the batch.
                results: dict[str, TaskState | Exception] = {
                    u: state.error if state.status == "unreadable" and state.error else state
                    for u, state in read_batch(response, uuids).items()
                }
                if len(uuids) > 1:
                    # Runware's clients ask one task per request, and nobody has published
                    # whether a batch answers every item: a job left out is asked about
                    # alone before it may count as not found.
                    left_out = [u for u in uuids if not response.mentions(u)]
                    self.stats.asked_alone += len(left_out)
                    for part in await asyncio.gather(*(self._fetch_alone(u) for u in left_out)):
                        results.update(part)
                return results
        assert refusal is not None
        if isinstance(refusal, (RunwareAuthError, RunwareInsufficientCreditsError, RunwareTransientError)):
            raise refusal  # about the account or the moment, not about one task: every poll alike
        if len(uuids) == 1:
            # A refusal of a request holding one task is that task's own error.
            self.stats.isolated_refusals += 1
            return {uuids[0]: refusal}
        # A refusal that names no task: split the batch until it is charged to the task(s)
        # that cause it, so one bad item never fails the other jobs.
        self.stats.batch_rejections += 1
        isolated_before = self.stats.isolated_refusals
        half = len(uuids) // 2
        out = await self._fetch(uuids[:half])
        out.update(await self._fetch(uuids[half:]))
        if self.stats.isolated_refusals == isolated_before:
            # Every part was answered: the size itself was refused. Smaller batches for a while.
            self.max_batch = max(1, min(self.max_batch, half))
            self._successes_at_size = 0
            log.warning(
                "Runware refused a batch of %d getResponse tasks (%s); batches are at most %d for now",
                len(uuids),
                refusal,
                self.max_batch,
            )
        return out

    async def _fetch_alone(self, task_uuid: str) -> dict[str, TaskState | Exception]:
        """One task's state in a request of its own; its failure is that task's alone."""
        try:
            return await self._fetch([task_uuid])
        except (RunwareAuthError, RunwareInsufficientCreditsError):
            raise
        except RunwareError as exc:
            return {task_uuid: exc}

    def _note_success(self, size: int) -> None:
        """Grow the batch limit back after a refusal, once full batches are answered again."""
        if self.max_batch >= self._ceiling or size < self.max_batch:
            return
        self._successes_at_size += 1
        if self._successes_at_size >= RECOVER_AFTER:
            self.max_batch = min(self._ceiling, self.max_batch * 2)
            self._successes_at_size = 0


def _fail(waiters: dict[str, list[asyncio.Future[TaskState]]], exc: BaseException) -> None:
    for futures in waiters.values():
        for f in futures:
            if not f.done():
                f.set_exception(exc)


# Keyed by the loop object itself (weakly): an HTTP client belongs to one event loop, and a
# loop's id() may be reused once it is gone.
_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, BatchPoller]] = (
    weakref.WeakKeyDictionary()
)


def poller_for(conn_id: str) -> BatchPoller:
    """The shared poller for ``conn_id`` in the running event loop (created on first use)."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(conn_id)
    if poller is None:
        poller = pollers[conn_id] = BatchPoller(lambda: RunwareHook(conn_id))
    poller.acquire()
    return poller


async def release_poller(conn_id: str, poller: BatchPoller) -> None:
    """Give back a poller from :func:`poller_for`; the last user closes it."""
    pollers = _POLLERS.get(asyncio.get_running_loop(), {})
    if pollers.get(conn_id) is poller and poller.users <= 1:
        del pollers[conn_id]  # before closing, so no newcomer picks up a closing poller
    await poller.release()


def active_pollers() -> list[BatchPoller]:
    """Pollers in use in the running event loop (for benchmarks and tests)."""
    return list(_POLLERS.get(asyncio.get_running_loop(), {}).values())
