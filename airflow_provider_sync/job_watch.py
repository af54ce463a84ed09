"""When is a render done? One state machine for the trigger and for worker-side polling.

The trigger (async, in the triggerer) and the operator with ``deferrable=False`` (sync, in the
worker) feed the same :class:`JobWatch` with what each poll returned; it answers with the
event that ends the wait, or ``None`` to keep polling. Both paths therefore end a job the same
way, with the same payloads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_sync.exceptions import RunwareError, RunwareTransientError, RunwareUploadFailedError
from airflow_provider_sync.payloads import ErrorDetails, ErrorEvent, JobEvent, TimeoutEvent, error_class_name
from airflow_provider_sync.protocol import TaskState

#: How long ``getResponse`` may say "task not found" for a job we know we submitted, before
#: we believe it. Runware's storage is eventually consistent; a job just acknowledged, or a
#: replica that lags, may briefly not know it.
DEFAULT_NOT_FOUND_GRACE = 120.0
#: A progress line is logged at most this often, not once per poll.
PROGRESS_EVERY = 60.0
#: With an expected render time, the first poll waits this share of it.
FIRST_POLL_SHARE = 0.6
#: After that first poll, polling restarts at ``poll_interval * RAMP_START`` and grows by
#: ``RAMP_FACTOR`` per poll up to ``poll_interval``: the job is probably nearly done, so ask
#: more often at first, then back off.
RAMP_START = 0.25
RAMP_FACTOR = 1.5
#: Seconds of rendering per second of speech we assume for text-to-speech inputs.
RENDER_SECONDS_PER_AUDIO_SECOND = 2.0
#: Characters of text per second of speech, for the same estimate.
SPEECH_CHARS_PER_SECOND = 15.0


def estimate_render_time(request: dict[str, Any]) -> float | None:
    """A rough render time for a request, when its length can be known without I/O.

    Only text-to-speech inputs tell their length (through the text); for audio files we
    return ``None`` and polling falls back to the configured interval.
    """
    speech = request.get("inputs", {}).get("speech") or []
    if isinstance(request.get("speech"), dict):  # sync-3's one top-level speech
        speech = [request["speech"]]
    if not speech or request.get("inputs", {}).get("audio"):
        return None
    chars = sum(len(str(item.get("text", ""))) for item in speech)
    return chars / SPEECH_CHARS_PER_SECOND * RENDER_SECONDS_PER_AUDIO_SECOND


@dataclass
class PollSchedule:
    """When to poll next: a first delay, then (when ``ramp``) a ramp up to ``poll_interval``.

    The first delay is counted from ``started``, so a schedule rebuilt after a triggerer
    restart does not wait the whole first delay again.
    """

    poll_interval: float
    first_delay: float
    started: float
    ramp: bool = False
    _next: float | None = None

    def next_delay(self, now: float | None = None) -> float:
        """Seconds to sleep before the next poll."""
        now = time.time() if now is None else now
        if self._next is None:
            self._next = max(0.1, self.poll_interval * RAMP_START) if self.ramp else self.poll_interval
            return max(0.0, self.started + self.first_delay - now)
        delay = min(self._next, self.poll_interval)
        self._next = min(self.poll_interval, self._next * RAMP_FACTOR)
        return delay


def first_poll_delay(poll_interval: float, expected_render_time: float | None) -> tuple[float, bool]:
    """The first poll's delay and whether to ramp afterwards (see :class:`PollSchedule`)."""
    if expected_render_time is None or expected_render_time <= 0:
        return poll_interval, False
    return max(1.0, FIRST_POLL_SHARE * expected_render_time), True


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``"1m15s"``: short enough for a log line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


@dataclass
class JobWatch:
    """Follows one Runware job from poll to poll.

    :param task_uuid: the job.
    :param deadline: wall-clock time (epoch seconds) after which we give up; ``None`` = never.
    :param started: when the wait began (epoch seconds), for elapsed-time reporting.
    :param not_found_grace: seconds of consecutive "task not found" answers tolerated.
    :param not_found_since: when Runware last began saying "task not found" (epoch seconds),
        for a wait that outlives this object (a sensor rescheduled between its pokes);
        ``None``: not seen yet.
    """

    task_uuid: str
    deadline: float | None = None
    started: float = field(default_factory=time.time)
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    polls: int = 0
    transient_failures: int = 0
    last_status: str = "submitted"
    not_found_since: float | None = None
    _last_progress: float | None = None
    _last_progress_status: str | None = None

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the wait began."""
        return (now if now is not None else time.time()) - self.started

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the deadline, or ``None`` without one."""
        if self.deadline is None:
            return None
        return self.deadline - (now if now is not None else time.time())

    def check_deadline(self, now: float | None = None) -> TimeoutEvent | None:
        """The timeout event once the deadline has passed."""
        now = now if now is not None else time.time()
        left = self.seconds_left(now)
        if left is None or left > 0:
            return None
        return {
            "status": "timeout",
            "task_uuid": self.task_uuid,
            "elapsed": round(self.elapsed(now), 3),
            "polls": self.polls,
            "last_status": self.last_status,
            "message": (
                f"Runware task {self.task_uuid} did not finish within {format_duration(self.elapsed(now))} "
                f"(last status: {self.last_status}). The job may still complete at Runware: "
                f"look it up with getResponse for taskUUID {self.task_uuid}."
            ),
        }

    def on_state(self, state: TaskState, now: float | None = None) -> JobEvent | None:
        """Read one poll's answer; return the final event, or ``None`` to poll again."""
        now = now if now is not None else time.time()
        if state.status == "unreadable":
            # One odd item about this job in a batched answer: a failed poll, not a state.
            return self.on_failure(state.error or RunwareTransientError("unreadable answer"), now)
        self.polls += 1
        self.last_status = state.status
        if state.status == "success":
            return {
                "status": "success",
                "task_uuid": self.task_uuid,
                "elapsed": round(self.elapsed(now), 3),
                "polls": self.polls,
                "result": state.result or {},
            }
        if state.status == "error":
            return self.error_event(state.error, now)
        if state.status == "not_found":
            if self.not_found_since is None:
                self.not_found_since = now
            elif now - self.not_found_since >= self.not_found_grace:
                return {
                    "status": "error",
                    "task_uuid": self.task_uuid,
                    "elapsed": round(self.elapsed(now), 3),
                    "error": {
                        "code": "taskNotFound",
                        "message": (
                            f"Runware has not known task {self.task_uuid} for "
                            f"{format_duration(now - self.not_found_since)}"
                        ),
                        "task_uuid": self.task_uuid,
                    },
                }
            return None
        self.not_found_since = None
        return None

    def on_failure(self, exc: Exception, now: float | None = None) -> JobEvent | None:
        """Read a poll that raised: transient faults keep the wait going, others end it."""
        now = now if now is not None else time.time()
        if isinstance(exc, RunwareTransientError):
            # The hook already retried with backoff; a render takes minutes, so an outage of
            # the status endpoint must not fail the job. Only the deadline ends the wait.
            self.transient_failures += 1
            return None
        if isinstance(exc, RunwareError):
            return self.error_event(exc, now)
        raise exc

    def error_event(self, error: RunwareError | None, now: float | None = None) -> ErrorEvent:
        """The event for a job (or request) that failed."""
        now = now if now is not None else time.time()
        details: ErrorDetails = {
            "code": error.code if error else None,
            "message": error.message if error else "unknown error",
            "parameter": error.parameter if error else None,
            "task_uuid": (error.task_uuid if error else None) or self.task_uuid,
            "task_type": error.task_type if error else None,
            "status_code": error.status_code if error else None,
            "error_class": error_class_name(error),
        }
        if isinstance(error, RunwareUploadFailedError):
            details["video_url"] = error.video_url
            details["video_uuid"] = error.video_uuid
        return {
            "status": "error",
            "task_uuid": self.task_uuid,
            "elapsed": round(self.elapsed(now), 3),
            "polls": self.polls,
            "error": details,
        }

    def progress_due(self, now: float | None = None) -> bool:
        """True when it is time for another progress line: after the first poll, on a change
        of status, then at most every :data:`PROGRESS_EVERY` seconds."""
        now = now if now is not None else time.time()
        changed = self.last_status != self._last_progress_status
        if self._last_progress is None or changed or now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            self._last_progress_status = self.last_status
            return True
        return False

    def progress_line(self, now: float | None = None) -> str:
        """``Runware task X: processing, 2m00s elapsed, 13 polls``."""
        return (
            f"Runware task {self.task_uuid}: {self.last_status}, "
            f"{format_duration(self.elapsed(now))} elapsed, {self.polls} polls"
        )

    def final_line(self, event: JobEvent) -> str:
        """One line saying how the wait ended, for the trigger's own log."""
        status = event["status"]
        detail = ""
        if event["status"] == "error":
            error = event["error"]
            detail = f" ({error['code'] or 'no code'}: {error['message']})"
        return (
            f"Runware task {self.task_uuid} ended: {status}{detail} after "
            f"{format_duration(event['elapsed'])}, {self.polls} polls"
        )
