"""Reading Runware's answers: tolerant parsing into typed task states.

Everything here is pure (no I/O), so the sync hook, the async hook and the trigger all read
answers the same way. The variants accepted are listed in ``docs/protocol.md``; which code
lands in which exception is listed in ``docs/errors.md``.

**Whatever Runware (or a proxy in front of it) answers, nothing but a typed**
:class:`~airflow_provider_sync.exceptions.RunwareError` **leaves this module**: any HTTP
status, any bytes, JSON of any shape (codes that are lists, task UUIDs that are objects,
``NaN``, huge numbers, deep nesting). ``tests/properties/test_answer_parsing.py`` feeds it
generated answers to keep it so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareJobError,
    RunwareModerationError,
    RunwareTransientError,
    RunwareUploadFailedError,
)

#: ``unreadable``: an item about the task was there but could not be read (an unknown
#: status, a per-task ``serverBusy``); ``error`` is set to the transient fault. Only batch
#: readers return it; single-task calls raise that fault instead.
TaskStatus = Literal["processing", "success", "error", "not_found", "unreadable"]

#: Still running. ``processing`` is the task-polling page's word; sdk-python
#: (``runware/base.py`` ``_pollResults``) also waits on ``queued``, ``pending``,
#: ``scheduled`` and ``waiting``; the rest are tolerated spellings.
PROCESSING_STATUSES = frozenset(
    {"processing", "pending", "queued", "scheduled", "waiting", "running", "in_progress"}
)
#: Finished well: ``success`` (task-polling page); ``completed`` (runware-python's
#: ``_is_terminal``) and two tolerated spellings.
SUCCESS_STATUSES = frozenset({"success", "succeeded", "completed", "done"})
#: Finished in error: ``error`` (task-polling page) and tolerated spellings.
FAILED_STATUSES = frozenset({"error", "failed", "failure"})
#: A cancelled job, should a status ever say so (no Runware source shows one: assumed).
CANCELLED_STATUSES = frozenset({"cancelled", "canceled"})

#: The auth family (runware-typescript ``src/errors.ts`` ``AUTH_CODES``, plus any code
#: containing ``ApiKey``; ``apiKeyRevoked`` and ``invalidApiKeyCharacters`` are ours).
AUTH_CODES = frozenset(
    {
        "invalidApiKey", "missingApiKey", "apiKeyRevoked", "invalidApiKeyCharacters",
        "unauthorized", "forbidden", "permissionDenied", "insufficientPermissions",
        "authenticationFailed", "authFailed", "authTimeout", "invalidAuthentication",
        "invalidCredentials", "missingAuthentication", "tokenExpired", "tokenInvalid",
        "tokenMissing", "tokenRevoked", "accountSuspended", "accountDisabled",
        "organizationSuspended", "organizationDisabled", "workspaceSuspended", "workspaceDisabled",
    }
)  # fmt: skip
#: The quota family: runware-typescript ``deriveCode`` reads any code containing
#: ``Credits``, ``Quota`` or ``Balance``, and ``quotaExceeded`` / ``paymentRequired``, as
#: quota; the singular spellings are tolerated.
CREDIT_CODES = frozenset(
    {"insufficientCredits", "insufficientCredit", "notEnoughCredits", "quotaExceeded", "paymentRequired"}
)
_CREDIT_PARTS = ("Credits", "Quota", "Balance")
#: The moderation family (runware-typescript ``src/errors.ts`` ``SAFETY_CODES``).
MODERATION_CODES = frozenset(
    {
        "contentPolicyViolation", "providerContentPolicyViolation", "sensitiveContentDetected",
        "unsafeContentDetected", "nsfwContentDetected", "promptBlocked", "imageBlocked",
        "moderationFailed",
    }
)  # fmt: skip
#: "This task is unknown" as Runware's own clients spell it (runware-typescript
#: ``src/errors.ts`` and its tests: ``taskNotFound``, ``taskExpired``, ``taskFailedOrNotFound``).
#: ``taskCancelled`` sits in the same bucket there, but a cancelled job is not an unknown
#: one: it has its own class here (:data:`CANCELLED_CODES`).
NOT_FOUND_CODES = frozenset({"taskNotFound", "taskExpired", "taskFailedOrNotFound", "taskUUIDNotFound"})
#: The job was cancelled (runware-typescript test ``errors.test.ts``: ``taskCancelled``).
CANCELLED_CODES = frozenset({"taskCancelled", "taskCanceled"})
#: Runware could not deliver the rendered file to ``uploadEndpoint`` (runware-typescript
#: ``src/errors.ts`` ``PROVIDER_CODES``: ``uploadFailed``).
UPLOAD_FAILED_CODES = frozenset({"uploadFailed"})
#: "This taskUUID was used already": ``conflictTaskUUID`` is Runware's code (sdk-python
#: ``runware/base.py`` treats it as "already submitted" on a retry); the others are tolerated.
DUPLICATE_CODES = frozenset({"conflictTaskUUID", "duplicateTaskUUID", "taskUUIDAlreadyExists"})
#: Codes about the moment, not the job: the rate-limit family (any code containing
#: ``RateLimit``) and the server family runware-typescript retries.
TRANSIENT_CODES = frozenset(
    {
        "rateLimitExceeded", "tooManyRequests", "internalServerError", "serviceUnavailable",
        "serverUnavailable", "serverBusy",
    }
)  # fmt: skip
#: HTTP statuses Runware's own clients retry (runware-typescript ``src/transport/rest.ts``).
TRANSIENT_STATUSES = frozenset({408, 429})

#: Longest text kept from an answer for one field (a message, a code): answers are not
#: trusted to be small, and the text ends up in logs and events.
MAX_TEXT = 2000
MAX_CODE = 100
MAX_ALLOWED_VALUES = 50


def is_transient_status(status_code: int | None) -> bool:
    """True for HTTP statuses worth retrying: 408, 429 and every 5xx."""
    return isinstance(status_code, int) and (status_code in TRANSIENT_STATUSES or status_code >= 500)


def is_not_found_code(code: Any) -> bool:
    """True for an error code that says "no such task" (in any of its spellings)."""
    return isinstance(code, str) and code in NOT_FOUND_CODES


def is_duplicate_code(code: Any) -> bool:
    """True for an error code that says "this taskUUID exists already"."""
    return isinstance(code, str) and code in DUPLICATE_CODES


def is_auth_code(code: Any) -> bool:
    """True for a code of the auth family (the key or the account was refused)."""
    return isinstance(code, str) and (code in AUTH_CODES or "ApiKey" in code)


def is_credit_code(code: Any) -> bool:
    """True for a code of the quota family (credit, balance or quota exhausted)."""
    return isinstance(code, str) and (code in CREDIT_CODES or any(p in code for p in _CREDIT_PARTS))


def is_transient_code(code: Any) -> bool:
    """True for a code about the moment (rate limits, a busy or failing server)."""
    return isinstance(code, str) and (code in TRANSIENT_CODES or "RateLimit" in code)


# --------------------------------------------------------------------------- field readers


def _code(value: Any) -> str | None:
    """Runware's error code as text, or ``None`` when it is not a short string or integer.

    Only strings and integers name a code (sdk-python also sees a numeric ``errorId``);
    lists, objects, floats and booleans are not codes, however an answer spells them.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = _int_text(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return text[:MAX_CODE] if text else None


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # more digits than Python converts to text
        return "<a very large number>"


def _text(value: Any) -> str | None:
    """A scalar field (``parameter``, ``taskType``, ``taskUUID``) as text, else ``None``."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _int_text(value)[:MAX_TEXT]
    return None


def _message(value: Any) -> str | None:
    """A ``message`` of any shape as bounded text (an object is shown as compact JSON)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_text(value)[:MAX_TEXT]
    try:
        return json.dumps(value, separators=(",", ":"), default=str)[:MAX_TEXT]
    except (ValueError, TypeError, RecursionError):
        return f"<a {type(value).__name__} Runware sent as its message>"


def _uuid_of(item: Mapping[str, Any]) -> str | None:
    """The ``taskUUID`` an item is about, or ``None`` when it names none usable."""
    value = item.get("taskUUID")
    return value if isinstance(value, str) and value else None


def _status(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip().lower()
    return "<not a string>"


def _url(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# --------------------------------------------------------------------------- answers


@dataclass
class RunwareResponse:
    """One parsed answer: the ``data`` items and the ``errors`` items (objects only)."""

    data: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status_code: int = 200

    def data_for(self, task_uuid: str) -> list[dict[str, Any]]:
        """Data items about ``task_uuid``."""
        return [d for d in self.data if _uuid_of(d) == task_uuid]

    def errors_for(self, task_uuid: str) -> list[dict[str, Any]]:
        """Error items about ``task_uuid``."""
        return [e for e in self.errors if _uuid_of(e) == task_uuid]

    def mentions(self, task_uuid: str) -> bool:
        """True when any item of the answer is about ``task_uuid``."""
        return any(_uuid_of(i) == task_uuid for i in (*self.data, *self.errors))


@dataclass(frozen=True)
class TaskState:
    """What ``getResponse`` told us about one task.

    :param status: ``processing``, ``success``, ``error``, ``not_found`` or (batch readers
        only) ``unreadable``.
    :param result: the success item (all its fields, known or not); read it with
        :func:`read_video_result`.
    :param error: the job's error when ``status == "error"``; the transient fault when
        ``status == "unreadable"``.
    """

    task_uuid: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: RunwareError | None = None

    @property
    def finished(self) -> bool:
        """True once the job succeeded or failed."""
        return self.status in ("success", "error")


def _retry_after(value: Any) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff
    return max(0.0, seconds) if math.isfinite(seconds) else None


def classify(code: str | None, status_code: int | None) -> type[RunwareError]:
    """The exception class for Runware's ``code`` in an answer of HTTP ``status_code``.

    The families follow Runware's own clients (runware-typescript ``deriveCode``); the
    table with sources is ``docs/errors.md``.
    """
    if status_code in (401, 403) or is_auth_code(code):
        return RunwareAuthError
    if status_code == 402 or is_credit_code(code):
        return RunwareInsufficientCreditsError
    if code in MODERATION_CODES:
        return RunwareModerationError
    if code in CANCELLED_CODES:
        return RunwareJobCancelledError
    if code in UPLOAD_FAILED_CODES:
        return RunwareUploadFailedError
    if is_transient_code(code) or is_transient_status(status_code):
        return RunwareTransientError
    return RunwareAPIError


def error_from_item(item: Mapping[str, Any], status_code: int | None = None) -> RunwareError:
    """Build the typed exception for one Runware error object of any shape.

    Reads both the flat form (``{"code", "message", ...}`` in ``errors``) and the nested one
    newer answers carry in ``data`` (``{"status": "error", "error": {"code", "message"}}``).
    Fields of the wrong type are dropped, long ones cut; never raises.
    """
    nested = item.get("error")
    fields: dict[str, Any] = dict(item)
    if isinstance(nested, Mapping):
        fields.update({str(k): v for k, v in nested.items() if v is not None})
    code = _code(fields.get("code"))
    if code is None:
        code = _code(fields.get("errorCode"))
    message = _message(fields.get("message"))
    if message is None and isinstance(nested, str):
        message = _message(nested)
    allowed = fields.get("allowedValues")
    kwargs: dict[str, Any] = {
        "code": code,
        "parameter": _text(fields.get("parameter")),
        "task_uuid": _text(item.get("taskUUID")) or _text(fields.get("taskUUID")),
        "task_type": _text(fields.get("taskType")),
        "status_code": status_code,
        "allowed_values": (
            [v for v in allowed[:MAX_ALLOWED_VALUES] if isinstance(v, (str, int, float))]
            if isinstance(allowed, list)
            else None
        ),
    }
    cls = classify(code, status_code)
    text = message or code or "unknown error"
    if cls is RunwareUploadFailedError:
        return RunwareUploadFailedError(
            text,
            video_url=_url(fields.get("videoURL")),
            video_uuid=_text(fields.get("videoUUID")),
            **kwargs,
        )
    return cls(text, **kwargs)


def _loads(content: bytes) -> Any:
    """JSON out of ``content``; ``ValueError`` for anything that is not JSON we can hold."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    # json raises ValueError (UnicodeDecodeError included) for bad bytes, bad syntax and
    # integers with more digits than Python converts.


def _as_items(value: Any) -> list[Any] | None:
    """``errors``/``error`` as a list: a list as is, one object as a list of one."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return None


def parse_body(status_code: int, content: bytes, headers: Mapping[str, str] | None = None) -> RunwareResponse:
    """Parse an HTTP answer; raise for answers that say nothing per task.

    :raises RunwareTransientError: 408, 429, 5xx, or a body that is not the JSON shape we
        expect (valid JSON of the wrong shape included: a proxy's page, a truncated answer).
    :raises RunwareAuthError: the key was refused (the whole request failed).
    :raises RunwareInsufficientCreditsError: the account cannot pay (the whole request failed).
    :raises RunwareAPIError: an HTTP 4xx that says nothing about any task (``400 {}``).
    """
    headers = headers or {}
    if is_transient_status(status_code):
        first = _first_error(content)
        raise RunwareTransientError(
            _message(first.get("message")) or f"HTTP {status_code} from Runware",
            code=_code(first.get("code")) or ("rateLimitExceeded" if status_code == 429 else None),
            status_code=status_code,
            retry_after=_retry_after(headers.get("retry-after")),
        )
    try:
        body = _loads(content)
    except ValueError:
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with a body that is not JSON", status_code=status_code
        ) from None
    if not isinstance(body, dict):
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with unexpected JSON ({type(body).__name__})",
            status_code=status_code,
        )
    errors = _as_items(body.get("errors")) if body.get("errors") is not None else None
    if errors is None and isinstance(body.get("error"), (dict, list)):
        errors = _as_items(body["error"])
        # runware-python's parse_api_error: an ``{"error": {...}, "taskUUID"}`` envelope
        # names the task beside the error object.
        envelope = {k: body[k] for k in ("taskUUID", "taskType") if k in body}
        errors = [{**envelope, **e} if isinstance(e, dict) else e for e in errors or []]
    data = body.get("data")
    if not isinstance(data, (list, type(None))) or (body.get("errors") is not None and errors is None):
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with JSON of an unexpected shape "
            f"(data: {type(data).__name__}, errors: {type(body.get('errors')).__name__})",
            status_code=status_code,
        )
    response = RunwareResponse(
        data=[d for d in (data or []) if isinstance(d, dict)],
        errors=[e for e in (errors or []) if isinstance(e, dict)],
        status_code=status_code,
    )
    for err in response.errors:
        code = _code(err.get("code"))
        # A refused key fails the whole request, whatever task it names; a quota refusal
        # does so when it names no task (errors are scoped to their task otherwise).
        account_wide = is_auth_code(code) or (is_credit_code(code) and not _uuid_of(err))
        if status_code in (401, 402, 403) or account_wide:
            raise error_from_item(err, status_code)
    if status_code in (401, 402, 403):
        raise error_from_item({"message": f"HTTP {status_code} from Runware"}, status_code)
    if not response.data and not response.errors and status_code >= 400:
        raise error_from_item({"message": f"HTTP {status_code} from Runware"}, status_code)
    return response


def _first_error(content: bytes) -> dict[str, Any]:
    try:
        body = _loads(content)
    except ValueError:
        return {}
    if isinstance(body, dict):
        errors = _as_items(body.get("errors")) or _as_items(body.get("error")) or []
        if errors and isinstance(errors[0], dict):
            return errors[0]
    return {}


def _job_error(err: RunwareError, task_uuid: str) -> RunwareError:
    """A per-task error as the job's outcome: families keep their class, the rest of the
    request-level refusals become a :class:`RunwareJobError` (retried by Airflow)."""
    err.task_uuid = err.task_uuid or task_uuid
    if isinstance(
        err,
        (
            RunwareAuthError,
            RunwareInsufficientCreditsError,
            RunwareModerationError,
            RunwareJobCancelledError,
            RunwareUploadFailedError,
        ),
    ):
        return err
    return RunwareJobError(
        err.message,
        code=err.code,
        parameter=err.parameter,
        task_uuid=err.task_uuid,
        task_type=err.task_type,
        status_code=err.status_code,
    )


def task_state(response: RunwareResponse, task_uuid: str) -> TaskState:
    """Read one task's state out of a ``getResponse`` answer.

    A task may report several generations: any failed one fails the job, and the job
    succeeded only once every one has. An answer with no item at all for the task reads as
    "not found" (one of the ways Runware says it does not know a task); the caller's grace
    period decides whether to believe it.

    :raises RunwareTransientError: an item with a status we cannot read, or an error item
        that is itself transient (``serverBusy`` for one task).
    """
    items = response.data_for(task_uuid)
    statuses = [_status(i.get("status")) for i in items]
    for item, status in zip(items, statuses, strict=True):
        if status in FAILED_STATUSES or status in CANCELLED_STATUSES:
            if status in CANCELLED_STATUSES and _code(item.get("code")) is None:
                item = {**item, "code": "taskCancelled"}
            err = error_from_item({"taskUUID": task_uuid, **item}, response.status_code)
            if is_not_found_code(err.code):
                return TaskState(task_uuid, "not_found")
            if isinstance(err, RunwareTransientError):
                raise err
            return TaskState(task_uuid, "error", error=_job_error(err, task_uuid))
    for err_item in response.errors_for(task_uuid):
        if is_not_found_code(_code(err_item.get("code"))):
            return TaskState(task_uuid, "not_found")
        err = error_from_item(err_item, response.status_code)
        if isinstance(err, RunwareTransientError):
            raise err
        return TaskState(task_uuid, "error", error=_job_error(err, task_uuid))
    if items and all(s in SUCCESS_STATUSES for s in statuses):
        return TaskState(task_uuid, "success", result=items[0] if len(items) == 1 else _merge(items))
    if items and all(s in PROCESSING_STATUSES or s in SUCCESS_STATUSES or not s for s in statuses):
        return TaskState(task_uuid, "processing")
    if items:
        shown = sorted({s[:40] for s in statuses})[:5]
        raise RunwareTransientError(
            f"getResponse answered an unknown status {shown!r} for task {task_uuid}", task_uuid=task_uuid
        )
    return TaskState(task_uuid, "not_found")


def read_batch(response: RunwareResponse, task_uuids: Iterable[str]) -> dict[str, TaskState]:
    """Every task's state out of one batched ``getResponse`` answer.

    One task's unreadable item never touches another's state: it reads as
    ``unreadable`` (with the transient fault in ``error``) for that task alone.
    """
    out: dict[str, TaskState] = {}
    for u in task_uuids:
        try:
            out[u] = task_state(response, u)
        except RunwareError as exc:
            out[u] = TaskState(u, "unreadable", error=exc)
        except Exception as exc:  # a reading bug must cost one poll, not every job of the batch
            fault = RunwareTransientError(f"could not read the answer about task {u} ({type(exc).__name__})")
            out[u] = TaskState(u, "unreadable", error=fault)
    return out


def request_error(response: RunwareResponse, task_uuids: Iterable[str]) -> RunwareError | None:
    """The error of an answer that refused the request as a whole, or ``None``.

    That is an HTTP error status whose answer says nothing about any task we sent and holds
    an error naming no task at all: a batch too large, or one malformed task that it did not
    name. An error naming some other task (even one we cannot read) is a stray item, and an
    HTTP 200 never refuses the request: our tasks then read as not found, which callers ask
    again before they believe it.
    """
    if response.status_code < 400:
        return None
    wanted = set(task_uuids)
    if any(_uuid_of(d) in wanted for d in response.data) or any(
        _uuid_of(e) in wanted for e in response.errors
    ):
        return None
    for err in response.errors:
        if _names_no_task(err):
            return error_from_item(err, response.status_code)
    return None


def _names_no_task(item: Mapping[str, Any]) -> bool:
    return item.get("taskUUID") in (None, "")


def raise_request_error(response: RunwareResponse, task_uuids: Iterable[str]) -> None:
    """Raise :func:`request_error` when there is one."""
    err = request_error(response, task_uuids)
    if err is not None:
        raise err


def _merge(items: list[dict[str, Any]]) -> dict[str, Any]:
    merged = dict(items[0])
    merged["generations"] = items
    return merged


def ack_for(response: RunwareResponse, task_uuid: str) -> dict[str, Any]:
    """Return the acknowledgement for a submitted task, or raise its error.

    A ``conflictTaskUUID`` error (Runware's "this taskUUID was used already"; HTTP 400 with
    an empty ``data`` in a third-party test) means the job exists: that is returned as an
    acknowledgement with ``"duplicate": True`` so the caller re-attaches instead of failing.

    :raises RunwareError: the task's own refusal (typed by its family), or a
        :class:`RunwareTransientError` when the answer does not mention the task.
    """
    about_task = response.errors_for(task_uuid)
    unnamed = [e for e in response.errors if _uuid_of(e) is None]
    for err_item in about_task or ([] if response.data_for(task_uuid) else unnamed):
        if is_duplicate_code(_code(err_item.get("code"))):
            return {"taskUUID": task_uuid, "duplicate": True}
        raise error_from_item(err_item, response.status_code)
    items = response.data_for(task_uuid)
    if not items:
        raise RunwareTransientError(
            f"Runware's answer did not acknowledge task {task_uuid}", task_uuid=task_uuid
        )
    return items[0]


def media_ack(response: RunwareResponse, task_uuid: str) -> dict[str, Any]:
    """The ``mediaStorage`` upload acknowledgement: ``mediaUUID`` (text) and ``mediaURL``.

    :raises RunwareTransientError: the answer has no usable ``mediaUUID`` (an answer of the
        wrong shape says nothing; the hook retries the upload under a new ``taskUUID``).
    :raises RunwareError: Runware refused the media (as :func:`ack_for`).
    """
    ack = ack_for(response, task_uuid)
    media_uuid = ack.get("mediaUUID")
    if not isinstance(media_uuid, str) or not media_uuid.strip():
        raise RunwareTransientError(
            f"mediaStorage answered without a usable mediaUUID (keys: {sorted(map(str, ack))[:20]})",
            task_uuid=task_uuid,
        )
    return {**ack, "mediaUUID": media_uuid.strip(), "mediaURL": _url(ack.get("mediaURL"))}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class VideoResult:
    """The typed fields of a success item; the item itself stays the XCom result's ``raw``.

    :param video_url: ``videoURL`` when it is a non-empty string, else ``None``.
    :param video_uuid: ``videoUUID`` when it is a non-empty string, else ``None``.
    :param cost: ``cost`` when it is a finite number >= 0 (USD), else ``None``.
    :param cost_raw: ``cost`` exactly as Runware sent it (``None`` when absent).
    :param seed: ``seed`` when it is an integer (or an integral float), else ``None``.
    """

    video_url: str | None
    video_uuid: str | None
    cost: float | None
    seed: int | None
    cost_raw: Any = None


def read_video_result(item: Mapping[str, Any] | None) -> VideoResult:
    """Read a ``getResponse`` success item (or a trigger event's ``result``); never raises."""
    item = item if isinstance(item, Mapping) else {}
    raw_cost = item.get("cost")
    return VideoResult(
        video_url=_url(item.get("videoURL")),
        video_uuid=_url(item.get("videoUUID")),
        cost=_cost(raw_cost),
        seed=_seed(item.get("seed")),
        cost_raw=raw_cost,
    )


def _cost(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        cost = float(value)
    except OverflowError:
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def _seed(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None
