"""Injectable faults: what a flaky network and a busy API do to a client.

A :class:`FaultRule` says *what* goes wrong (``kind``), *when* (``task_type``, ``match``,
``rate`` or ``count``) and with which details. Kinds:

``status``        answer HTTP ``status`` (408/500/502/503/504) with a Runware error body
``rate_limit``    answer 429 with ``Retry-After: retry_after``
``reset``         start the answer, then drop the connection (no work done)
``lost_response`` do the work (e.g. create the job), then drop the connection
``lost_after_accept`` do the work (e.g. queue the job), then answer HTTP 504, as Runware's
                  rate-limits page describes ("request exceeded maximum queue wait time")
``slow``          wait ``delay`` seconds before answering (beyond a client's timeout)
``malformed``     answer 200 with a truncated, non-JSON body
``job_error``     the job, once its render time is over, ends in error ``code``/``message``
``forget``        ``getResponse`` says ``taskNotFound`` for an existing job, ``polls`` times
"""

from __future__ import annotations

import random
from collections import Counter
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
    "job_error",
    "forget",
]
KINDS: tuple[str, ...] = get_args(FaultKind)
#: Faults that act on a whole HTTP request (the others act on one task).
REQUEST_KINDS = frozenset(
    {"status", "rate_limit", "reset", "lost_response", "lost_after_accept", "slow", "malformed"}
)
#: Faults after which the request's work is done anyway (the answer is what goes wrong).
AFTER_WORK_KINDS = frozenset({"lost_response", "lost_after_accept"})


@dataclass
class FaultRule:
    """One way to misbehave. ``rate`` (0..1) or ``count`` (next N matches); neither = always."""

    kind: str
    task_type: str | None = None
    match: str | None = None
    rate: float | None = None
    count: int | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 5.0
    code: str = "timeoutProvider"
    message: str = "The provider did not finish the job in time"
    polls: int = 3

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(KINDS)}")

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """``KIND[:RATE]`` from the command line, e.g. ``status:0.1``."""
        kind, _, rate = text.partition(":")
        return cls(kind=kind, rate=float(rate) if rate else None)


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

    def for_request(self, task_types: set[str], body: str) -> FaultRule | None:
        """The request-level fault to apply to this request, if any."""
        for rule in self.rules:
            if rule.kind not in REQUEST_KINDS:
                continue
            if rule.task_type and rule.task_type not in task_types:
                continue
            if rule.match and rule.match not in body:
                continue
            if self._fires(rule):
                self.injected[rule.kind] += 1
                return rule
        return None

    def job_error(self, task: dict[str, Any], body: str) -> FaultRule | None:
        """A ``job_error`` rule that takes this new job, if any."""
        for rule in self.rules:
            if rule.kind != "job_error" or (rule.match and rule.match not in body):
                continue
            if self._fires(rule):
                self.injected["job_error"] += 1
                return rule
        return None

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
