"""Injectable faults: what a flaky network and a busy API do to a client.

A :class:`FaultRule` says *what* goes wrong (``kind``), *when* (``task_type``, ``match``,
``rate`` or ``count``) and with which details. Kinds that act on one HTTP request:

``status``        answer HTTP ``status`` (408/500/502/503/504) with a Runware error body
``rate_limit``    answer 429 with ``Retry-After: retry_after``
``reset``         start the answer, then drop the connection (no work done)
``lost_response`` do the work (e.g. create the job), then drop the connection
``lost_after_accept`` do the work (e.g. queue the job), then answer HTTP 504, as Runware's
                  rate-limits page describes ("request exceeded maximum queue wait time")
``slow``          wait ``delay`` seconds before answering (beyond a client's timeout)
``malformed``     answer 200 with a truncated, non-JSON body
``trickle``       do the work, send the headers, then the body one byte every ``delay`` s
``stall``         do the work, send the headers, then nothing until the client gives up
                  (at most ``delay`` seconds, then the connection is dropped)
``stray_items``   do the work and answer it, plus malformed items about no task of the request
``omit_from_batch`` do the work, but leave one getResponse task of a batch out of the answer

Kinds that act on one job:

``job_error``     the job, once its render time is over, ends in error ``code``/``message``
``cancel``        the same, as Runware's ``taskCancelled``
``upload_failed`` the job renders, its PUT to ``uploadEndpoint`` is not made, and it ends in
                  error ``uploadFailed`` (with its ``videoURL`` when ``video_url`` is true)
``deliver_late``  the job reports success first; its PUT to ``uploadEndpoint`` lands ``delay``
                  seconds after that
``waiting_statuses`` ``getResponse`` says ``queued``/``pending``/``scheduled``/``waiting``
                  (``job_status``, or each in turn) for the job's first ``polls`` answers
``forget``        ``getResponse`` says ``taskNotFound`` for an existing job, ``polls`` times
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal[
    "status",
    "rate_limit",
    "reset",
    "lost_response",
    "lost_after_accept",
    "slow",
    "malformed",
    "trickle",
    "stall",
    "stray_items",
    "omit_from_batch",
    "job_error",
    "cancel",
    "upload_failed",
    "deliver_late",
    "waiting_statuses",
    "forget",
]
KINDS: tuple[str, ...] = get_args(FaultKind)
#: Faults that act on a whole HTTP request (the others act on one job).
REQUEST_KINDS = frozenset(
    {
        "status",
        "rate_limit",
        "reset",
        "lost_response",
        "lost_after_accept",
        "slow",
        "malformed",
        "trickle",
        "stall",
        "stray_items",
        "omit_from_batch",
    }
)
#: Faults after which the request's work is done anyway (the answer is what goes wrong).
AFTER_WORK_KINDS = frozenset(
    {"lost_response", "lost_after_accept", "trickle", "stall", "stray_items", "omit_from_batch"}
)
#: Job faults that decide how a job ends; a job takes at most one of them.
JOB_END_KINDS = ("job_error", "cancel", "upload_failed")
#: Job faults that need the job to have an ``uploadEndpoint``.
DELIVERY_KINDS = frozenset({"upload_failed", "deliver_late"})
#: Statuses Runware's Python SDK (``runware/base.py``, its polling loop) treats as "still
#: running" besides ``processing``.
WAITING_STATUSES = ("queued", "pending", "scheduled", "waiting")
#: The malformed items ``stray_items`` can add (all of them unless ``items`` says otherwise).
STRAY_ITEMS = ("code_list", "uuid_object", "no_task_uuid", "unknown_task")

#: Per-kind values of the details a rule leaves unset.
_DEFAULT_DELAY = {"slow": 5.0, "trickle": 0.5, "stall": 600.0, "deliver_late": 1.5}
_DEFAULT_ERROR = {
    "job_error": ("timeoutProvider", "The provider did not finish the job in time"),
    # runware-typescript ``src/errors.ts`` lists ``taskCancelled`` (with the not-found codes).
    "cancel": ("taskCancelled", "The task was cancelled"),
    # runware-typescript ``src/errors.ts`` lists ``uploadFailed`` among the provider codes.
    "upload_failed": ("uploadFailed", "Uploading the result to uploadEndpoint failed"),
}


@dataclass
class FaultRule:
    """One way to misbehave. ``rate`` (0..1) or ``count`` (next N matches); neither = always.

    Details left ``None`` take the kind's default: ``delay`` 5 s for ``slow``, 0.5 s per byte
    for ``trickle``, 600 s at most for ``stall``, 1.5 s for ``deliver_late``; ``code`` and
    ``message`` as Runware spells them for ``job_error``, ``cancel`` and ``upload_failed``.
    """

    kind: str
    task_type: str | None = None
    match: str | None = None
    rate: float | None = None
    count: int | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float | None = None
    code: str | None = None
    message: str | None = None
    polls: int = 3
    #: ``upload_failed``: whether the error answer still carries the ``videoURL``.
    video_url: bool = True
    #: ``stray_items``: which malformed items to add (names from :data:`STRAY_ITEMS`).
    items: list[str] | None = None
    #: ``waiting_statuses``: the status to report; ``None`` reports each in turn.
    job_status: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if self.delay is None:
            self.delay = _DEFAULT_DELAY.get(self.kind, 5.0)
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        code, message = _DEFAULT_ERROR.get(self.kind, _DEFAULT_ERROR["job_error"])
        self.code = code if self.code is None else self.code
        self.message = message if self.message is None else self.message
        if self.items is not None and (not self.items or set(self.items) - set(STRAY_ITEMS)):
            raise ValueError(f"items must be a non-empty list of {', '.join(STRAY_ITEMS)}")
        if self.job_status is not None and self.job_status not in WAITING_STATUSES:
            raise ValueError(f"job_status must be one of {', '.join(WAITING_STATUSES)}")
        if self.polls < 1:
            raise ValueError("polls must be >= 1")

    @property
    def seconds(self) -> float:
        """``delay`` as a number (the kind's default when it was left unset)."""
        return float(self.delay or 0.0)

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """``KIND[:RATE]`` from the command line, e.g. ``status:0.1``."""
        kind, _, rate = text.partition(":")
        return cls(kind=kind, rate=float(rate) if rate else None)


@dataclass
class JobFaults:
    """The job faults a new job was given (each ``None`` when none fired)."""

    end: FaultRule | None = None
    deliver_late: FaultRule | None = None
    waiting: FaultRule | None = None


@dataclass
class FaultPlan:
    """The active rules, their dice, and what they did."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    injected: Counter[str] = field(default_factory=Counter)
    forgetting: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def replace(self, rules: list[FaultRule]) -> None:
        self.rules = list(rules)
        self.forgetting.clear()

    def _fires(self, rule: FaultRule) -> bool:
        if rule.count is not None:
            if rule.count <= 0:
                return False
            rule.count -= 1
            return True
        return rule.rate is None or self._rng.random() < rule.rate

    def choice(self, options: Sequence[str]) -> str:
        """One of ``options``, drawn with the plan's (seeded) dice."""
        return self._rng.choice(list(options))

    def for_request(self, tasks: list[dict[str, Any]], body: str) -> FaultRule | None:
        """The request-level fault to apply to this request, if any."""
        task_types = {str(t.get("taskType")) for t in tasks}
        polls = sum(1 for t in tasks if t.get("taskType") == "getResponse")
        for rule in self.rules:
            if rule.kind not in REQUEST_KINDS:
                continue
            if rule.task_type and rule.task_type not in task_types:
                continue
            if rule.match and rule.match not in body:
                continue
            if rule.kind == "omit_from_batch" and polls < 2:
                continue  # only a batch can leave one of its tasks out
            if self._fires(rule):
                self.injected[rule.kind] += 1
                return rule
        return None

    def for_job(self, task: dict[str, Any], body: str) -> JobFaults:
        """The job faults that take this new job: at most one way to end, plus the others."""
        found = JobFaults()
        has_endpoint = bool(task.get("uploadEndpoint"))

        def candidates(kinds: Sequence[str]) -> list[FaultRule]:
            return [
                r
                for r in self.rules
                if r.kind in kinds
                and not (r.match and r.match not in body)
                and (has_endpoint or r.kind not in DELIVERY_KINDS)
            ]

        for rule in candidates(JOB_END_KINDS):
            if self._fires(rule):
                self.injected[rule.kind] += 1
                found.end = rule
                break
        if found.end is None:
            for rule in candidates(("deliver_late",)):
                if self._fires(rule):
                    self.injected[rule.kind] += 1
                    found.deliver_late = rule
                    break
        for rule in candidates(("waiting_statuses",)):
            if self._fires(rule):
                self.injected[rule.kind] += 1
                found.waiting = rule
                break
        return found

    def forgets(self, task_uuid: str) -> bool:
        """True when this ``getResponse`` should pretend not to know ``task_uuid``."""
        left = self.forgetting.get(task_uuid, 0)
        if left > 0:
            self.forgetting[task_uuid] = left - 1
            self.injected["forget"] += 1
            return True
        for rule in self.rules:
            if rule.kind != "forget" or (rule.match and rule.match != task_uuid):
                continue
            if self._fires(rule):
                self.forgetting[task_uuid] = max(0, rule.polls - 1)
                self.injected["forget"] += 1
                return True
        return False

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]


def stray_items(
    rule: FaultRule, task_type: str, base_url: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The malformed ``(data, errors)`` items a ``stray_items`` fault adds to an answer.

    None of them is about a task of the request: an error whose ``code`` is a list, an error
    whose ``taskUUID`` is an object, a success item without ``taskUUID``, and a success item
    about a task nobody submitted.
    """
    chosen = rule.items or list(STRAY_ITEMS)
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    if "code_list" in chosen:
        errors.append(
            {
                "code": ["invalidParameter", "unsupportedParameter"],
                "message": "stray item (emulator): the code is a list",
                "taskType": task_type,
                "taskUUID": str(uuid.uuid4()),
            }
        )
    if "uuid_object" in chosen:
        errors.append(
            {
                "code": "invalidParameter",
                "message": "stray item (emulator): the taskUUID is an object",
                "taskType": task_type,
                "taskUUID": {"uuid": str(uuid.uuid4())},
            }
        )
    for name in ("no_task_uuid", "unknown_task"):
        if name not in chosen:
            continue
        video = str(uuid.uuid4())
        item: dict[str, Any] = {
            "taskType": "videoInference",
            "status": "success",
            "videoUUID": video,
            "videoURL": f"{base_url}/media/{video}.mp4",
        }
        if name == "unknown_task":
            item["taskUUID"] = str(uuid.uuid4())
        data.append(item)
    return data, errors
