"""``RunwareTaskTrigger``: waits for a Runware job in the triggerer, holding no worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from airflow_provider_sync._compat import BaseTrigger, TriggerEvent
from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import RunwareError
from airflow_provider_sync.hooks.batch_poller import BatchPoller, poller_for, release_poller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.job_watch import DEFAULT_NOT_FOUND_GRACE, JobWatch, PollSchedule
from airflow_provider_sync.output_delivery import DELIVERY_WAIT, await_delivery
from airflow_provider_sync.payloads import JobEvent, ResumeInfo
from airflow_provider_sync.protocol import TaskState


class RunwareTaskTrigger(BaseTrigger):
    """Polls ``getResponse`` for one job until it succeeds, fails, or the deadline passes.

    Everything it needs is in its serialised form, so a triggerer that restarts rebuilds it
    and picks up the same job. The deadline is absolute (epoch seconds) for the same reason:
    a restart does not extend it.

    Triggers on the same connection in one triggerer share one HTTP client, and their polls
    are coalesced into batched ``getResponse`` requests (see
    :mod:`airflow_provider_sync.hooks.batch_poller`).

    Events carry a JSON-able dict with ``status`` = ``success`` (with ``result``), ``error``
    (with ``error``: Runware's code and message) or ``timeout`` (with ``message``).

    :param task_uuid: the Runware job to wait for.
    :param runware_conn_id: the Airflow connection to poll with.
    :param poll_interval: seconds between polls once the first poll has been made.
    :param deadline: epoch seconds (``started`` + the operator's ``timeout`` in seconds) after
        which a ``timeout`` event is fired; ``None`` = never. No poll is waited for past it,
        even when the shared batch's answer trickles in or stalls.
    :param first_poll_delay: seconds after ``started`` before the first poll (renders take a
        while; asking at once only costs a request). Defaults to ``poll_interval``.
    :param started: epoch seconds when the job was submitted, for elapsed-time reporting.
    :param not_found_grace: seconds of "task not found" tolerated before failing.
    :param ramp: after the first poll, start polling at a quarter of ``poll_interval`` and
        back off to it (used when the first poll was timed on an expected render time).
    :param resume: a small JSON-able dict echoed as ``resume`` in the event: what the task
        needs to finish (``dag.test()`` resumes a task with the event alone, dropping the
        ``kwargs`` given to ``defer()``).
    :param delivery_check_url: a presigned ``HEAD`` URL of the object Runware PUTs the video
        to: after the job's success the trigger waits (without blocking the loop) until the
        object is there, up to ``delivery_wait`` seconds, and says so in the event's
        ``delivery``. Never shown with its query (``repr`` and logs).
    :param delivery_prior_etag: the ETag of an object the delivery replaces (not the delivery).
    :param delivery_wait: seconds to wait for the delivery after the job's success.
    """

    def __init__(
        self,
        task_uuid: str,
        runware_conn_id: str = RunwareHook.default_conn_name,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        first_poll_delay: float | None = None,
        started: float | None = None,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        ramp: bool = False,
        resume: dict[str, Any] | None = None,
        delivery_check_url: str | None = None,
        delivery_prior_etag: str | None = None,
        delivery_wait: float = DELIVERY_WAIT,
    ) -> None:
        super().__init__()
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.first_poll_delay = float(poll_interval if first_poll_delay is None else first_poll_delay)
        self.started = started if started is not None else time.time()
        self.not_found_grace = float(not_found_grace)
        self.ramp = bool(ramp)
        self.resume = dict(resume) if resume else None
        self.delivery_check_url = delivery_check_url
        self.delivery_prior_etag = delivery_prior_etag
        self.delivery_wait = float(delivery_wait)

    def __repr__(self) -> str:
        # BaseTrigger's repr lists every kwarg: the check URL's query is a signature.
        classpath, kwargs = self.serialize()
        if kwargs.get("delivery_check_url"):
            kwargs["delivery_check_url"] = describe_source(str(kwargs["delivery_check_url"]))
        # The form of BaseTrigger's own repr (its helper for it is 3.x-only).
        return f"<{classpath} {', '.join(f'{k}={v}' for k, v in kwargs.items())}>"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "task_uuid": self.task_uuid,
                "runware_conn_id": self.runware_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "first_poll_delay": self.first_poll_delay,
                "started": self.started,
                "not_found_grace": self.not_found_grace,
                "ramp": self.ramp,
                "resume": self.resume,
                "delivery_check_url": self.delivery_check_url,
                "delivery_prior_etag": self.delivery_prior_etag,
                "delivery_wait": self.delivery_wait,
            },
        )

    async def _final(self, event: JobEvent) -> JobEvent:
        """The event as fired: the resume payload echoed, and the delivery awaited on success."""
        if self.resume:
            event["resume"] = cast(ResumeInfo, self.resume)
        if event["status"] == "success" and self.delivery_check_url:
            delivery = await await_delivery(
                self.delivery_check_url, prior_etag=self.delivery_prior_etag, wait=self.delivery_wait
            )
            event["delivery"] = delivery
            if delivery["status"] == "delivered":
                self.log.info(
                    "Runware delivered the video of task %s (%d bytes) %.1f s after reporting success",
                    self.task_uuid,
                    delivery["bytes"] or 0,
                    delivery["waited"],
                )
            else:
                self.log.warning(
                    "Runware reported task %s as succeeded, but its video did not arrive within "
                    "%.0f s; the task downloads it from videoURL instead",
                    self.task_uuid,
                    delivery["waited"],
                )
        return event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job ends; yield exactly one event."""
        watch = JobWatch(
            self.task_uuid, deadline=self.deadline, started=self.started, not_found_grace=self.not_found_grace
        )
        schedule = PollSchedule(self.poll_interval, self.first_poll_delay, self.started, ramp=self.ramp)
        poller = poller_for(self.runware_conn_id)
        ended = False
        event: JobEvent | None
        try:
            while True:
                delay = schedule.next_delay()
                left = watch.seconds_left()
                await asyncio.sleep(max(0.0, delay if left is None else min(delay, left)))
                if (event := watch.check_deadline()) is not None:
                    self.log.warning(event["message"])
                    ended = True
                    yield TriggerEvent(await self._final(event))
                    return
                try:
                    state = await self._poll(poller, watch)
                except _PollOutlivedDeadline:
                    continue  # the deadline check above ends the wait
                except RunwareError as exc:
                    event = watch.on_failure(exc)
                    if event is None:
                        self.log.warning(
                            "Polling Runware task %s failed, will retry: %s", self.task_uuid, exc
                        )
                else:
                    event = watch.on_state(state)
                if event is not None:
                    # The job has ended: whatever happens to this coroutine now (the triggerer
                    # cancels it once the event is stored) leaves nothing running at Runware.
                    ended = True
                    self.log.info(watch.final_line(event))
                    yield TriggerEvent(await self._final(event))
                    return
                if watch.progress_due():
                    self.log.info(watch.progress_line())
        except asyncio.CancelledError:
            if not ended:
                # The task was killed, marked failed, or the triggerer is stopping. Runware has
                # no way to cancel a job, so say which one goes on (a restart resumes it).
                self.log.warning(
                    "Stopped waiting for Runware task %s while it was %s; Runware offers no "
                    "cancellation, so the job continues and is billed. A re-run of this task "
                    "instance re-attaches to it.",
                    self.task_uuid,
                    watch.last_status,
                )
            raise
        finally:
            await release_poller(self.runware_conn_id, poller)

    async def _poll(self, poller: BatchPoller, watch: JobWatch) -> TaskState:
        """One poll through the shared batch, waited for no longer than this trigger's deadline.

        The batch's request is shared: if it trickles or stalls, other triggers may wait for
        it, but this one stops waiting when its own deadline comes (the request itself is
        bounded by the hook's total timeout per attempt).
        """
        poll = poller.get_state(self.task_uuid, max_delay=self.poll_interval / 20)
        left = watch.seconds_left()
        if left is None:
            return await poll
        try:
            return await asyncio.wait_for(poll, timeout=max(0.0, left))
        except asyncio.TimeoutError:
            raise _PollOutlivedDeadline from None


class _PollOutlivedDeadline(Exception):
    """A poll was still unanswered when the trigger's deadline came."""
