"""Reading Runware's answers: tolerant parsing into typed task states.

Everything here is pure (no I/O), so the sync hook, the async hook and the trigger all read
answers the same way. The variants accepted are listed in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobError,
    RunwareTransientError,
)

TaskStatus = Literal["processing", "success", "error", "not_found"]

_PROCESSING = {"processing", "pending", "queued", "running", "in_progress"}
_SUCCESS = {"success", "succeeded", "completed", "done"}
_FAILED = {"error", "failed", "failure"}

AUTH_CODES = frozenset({"invalidApiKey", "missingApiKey", "unauthorized", "apiKeyRevoked"})
CREDIT_CODES = frozenset({"insufficientCredits", "insufficientCredit", "notEnoughCredits"})
#: "This task is unknown" as Runware's own clients spell it (runware-typescript
#: ``src/errors.ts`` and its tests: ``taskNotFound``, ``taskExpired``, ``taskFailedOrNotFound``).
NOT_FOUND_CODES = frozenset({"taskNotFound", "taskExpired", "taskFailedOrNotFound", "taskUUIDNotFound"})
#: "This taskUUID was used already": ``conflictTaskUUID`` is Runware's code (sdk-python
#: ``runware/base.py`` treats it as "already submitted" on a retry); the others are tolerated.
DUPLICATE_CODES = frozenset({"conflictTaskUUID", "duplicateTaskUUID", "taskUUIDAlreadyExists"})
TRANSIENT_CODES = frozenset(
    {"rateLimitExceeded", "tooManyRequests", "internalServerError", "serviceUnavailable", "serverBusy"}
)
#: HTTP statuses Runware's own clients retry (runware-typescript ``src/transport/rest.ts``).
TRANSIENT_STATUSES = frozenset({408, 429})


def is_transient_status(status_code: int | None) -> bool:
    """True for HTTP statuses worth retrying: 408, 429 and every 5xx."""
    return status_code is not None and (status_code in TRANSIENT_STATUSES or status_code >= 500)


def is_not_found_code(code: Any) -> bool:
    """True for an error code that says "no such task" (in any of its spellings)."""
    return isinstance(code, str) and code in NOT_FOUND_CODES


def is_duplicate_code(code: Any) -> bool:
    """True for an error code that says "this taskUUID exists already"."""
    return isinstance(code, str) and code in DUPLICATE_CODES


@dataclass
class RunwareResponse:
    """One parsed answer: the ``data`` items and the ``errors`` items."""

    data: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status_code: int = 200

    def data_for(self, task_uuid: str) -> list[dict[str, Any]]:
        """Data items about ``task_uuid``."""
        return [d for d in self.data if d.get("taskUUID") == task_uuid]

    def errors_for(self, task_uuid: str) -> list[dict[str, Any]]:
        """Error items about ``task_uuid``."""
        return [e for e in self.errors if e.get("taskUUID") == task_uuid]


@dataclass(frozen=True)
class TaskState:
    """What ``getResponse`` told us about one task.

    :param status: ``processing``, ``success``, ``error`` or ``not_found``.
    :param result: the success item (all its fields, known or not).
    :param error: the job's error, when ``status == "error"``.
    """

    task_uuid: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: RunwareError | None = None

    @property
    def finished(self) -> bool:
        """True once the job succeeded or failed."""
        return self.status in ("success", "error")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def error_from_item(item: dict[str, Any], status_code: int | None = None) -> RunwareError:
    """Build the typed exception for one Runware error object.

    Reads both the flat form (``{"code", "message", ...}`` in ``errors``) and the nested one
    newer answers carry in ``data`` (``{"status": "error", "error": {"code", "message"}}``).
    """
    nested = item.get("error")
    if isinstance(nested, dict):
        item = {**item, **{k: v for k, v in nested.items() if v is not None}}
    code = item.get("code") or item.get("errorCode") or None
    code = str(code) if code is not None else None
    raw_message = item.get("message")
    if raw_message is None and isinstance(nested, str):
        raw_message = nested
    message = str(raw_message or code or "unknown error")
    kwargs: dict[str, Any] = {
        "code": code,
        "parameter": _text(item.get("parameter")),
        "task_uuid": _text(item.get("taskUUID")),
        "task_type": _text(item.get("taskType")),
        "status_code": status_code,
        "allowed_values": item.get("allowedValues") if isinstance(item.get("allowedValues"), list) else None,
    }
    if code in AUTH_CODES or status_code in (401, 403):
        return RunwareAuthError(message, **kwargs)
    if code in CREDIT_CODES or status_code == 402:
        return RunwareInsufficientCreditsError(message, **kwargs)
    if code in TRANSIENT_CODES or is_transient_status(status_code):
        return RunwareTransientError(message, **kwargs)
    return RunwareAPIError(message, **kwargs)


def _text(value: Any) -> str | None:
    return str(value) if value is not None and not isinstance(value, (dict, list)) else None


def parse_body(status_code: int, content: bytes, headers: dict[str, str] | None = None) -> RunwareResponse:
    """Parse an HTTP answer; raise for answers that say nothing per task.

    :raises RunwareTransientError: 408, 429, 5xx, or a body that is not the JSON shape we
        expect (valid JSON of the wrong shape included: a proxy's page, a truncated answer).
    :raises RunwareAuthError: the key was refused (the whole request failed).
    :raises RunwareInsufficientCreditsError: the account cannot pay (the whole request failed).
    """
    headers = headers or {}
    if is_transient_status(status_code):
        detail = _first_error_message(content)
        raise RunwareTransientError(
            detail or f"HTTP {status_code} from Runware",
            code=_first_error_code(content) or ("rateLimitExceeded" if status_code == 429 else None),
            status_code=status_code,
            retry_after=_retry_after(headers.get("retry-after")),
        )
    try:
        body = json.loads(content)
    except ValueError:
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with a body that is not JSON", status_code=status_code
        ) from None
    if not isinstance(body, dict):
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with unexpected JSON ({type(body).__name__})",
            status_code=status_code,
        )
    errors = body.get("errors")
    if errors is None and isinstance(body.get("error"), dict):
        errors = [body["error"]]
    data = body.get("data")
    if not isinstance(data, (list, type(None))) or not isinstance(errors, (list, type(None))):
        raise RunwareTransientError(
            f"Runware answered HTTP {status_code} with JSON of an unexpected shape "
            f"(data: {type(data).__name__}, errors: {type(errors).__name__})",
            status_code=status_code,
        )
    response = RunwareResponse(
        data=[d for d in (data or []) if isinstance(d, dict)],
        errors=[e for e in (errors or []) if isinstance(e, dict)],
        status_code=status_code,
    )
    for err in response.errors:
        # A refused key or an empty account fails the whole request, whatever the task.
        if err.get("code") in AUTH_CODES or err.get("code") in CREDIT_CODES or status_code in (401, 403):
            raise error_from_item(err, status_code)
    if not response.data and not response.errors and status_code >= 400:
        raise error_from_item({"message": f"HTTP {status_code} from Runware"}, status_code)
    return response


def _first_error(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    if isinstance(body, dict):
        errors = body.get("errors") or ([body["error"]] if isinstance(body.get("error"), dict) else [])
        if errors and isinstance(errors[0], dict):
            return errors[0]
    return {}


def _first_error_message(content: bytes) -> str | None:
    msg = _first_error(content).get("message")
    return str(msg) if msg else None


def _first_error_code(content: bytes) -> str | None:
    code = _first_error(content).get("code")
    return str(code) if code else None


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
    statuses = [str(i.get("status", "")).lower() for i in items]
    for item, status in zip(items, statuses, strict=True):
        if status in _FAILED:
            err = error_from_item({"taskUUID": task_uuid, **item}, response.status_code)
            if isinstance(err, RunwareTransientError):
                raise err
            return TaskState(task_uuid, "error", error=_as_job_error(err))
    for err_item in response.errors_for(task_uuid):
        if is_not_found_code(err_item.get("code")):
            return TaskState(task_uuid, "not_found")
        err = error_from_item(err_item, response.status_code)
        if isinstance(err, RunwareTransientError):
            raise err
        return TaskState(task_uuid, "error", error=_as_job_error(err))
    if items and all(s in _SUCCESS for s in statuses):
        return TaskState(task_uuid, "success", result=items[0] if len(items) == 1 else _merge(items))
    if items and all(s in _PROCESSING | _SUCCESS or not s for s in statuses):
        return TaskState(task_uuid, "processing")
    if items:
        raise RunwareTransientError(
            f"getResponse answered an unknown status {statuses!r} for task {task_uuid}", task_uuid=task_uuid
        )
    return TaskState(task_uuid, "not_found")


def request_error(response: RunwareResponse, task_uuids: list[str]) -> RunwareError | None:
    """The error of an answer that refused the request as a whole, or ``None``.

    When nothing in the answer is about any of the tasks we sent (no data, and errors that
    name none of them), the server refused the request itself: a batch too large, or one
    malformed task that it did not name.
    """
    wanted = set(task_uuids)
    if (
        response.errors
        and not any(d.get("taskUUID") in wanted for d in response.data)
        and not any(e.get("taskUUID") in wanted for e in response.errors)
    ):
        return error_from_item(response.errors[0], response.status_code)
    return None


def raise_request_error(response: RunwareResponse, task_uuids: list[str]) -> None:
    """Raise :func:`request_error` when there is one."""
    err = request_error(response, task_uuids)
    if err is not None:
        raise err


def _merge(items: list[dict[str, Any]]) -> dict[str, Any]:
    merged = dict(items[0])
    merged["generations"] = items
    return merged


def _as_job_error(err: RunwareError) -> RunwareJobError:
    return RunwareJobError(
        err.message,
        code=err.code,
        parameter=err.parameter,
        task_uuid=err.task_uuid,
        task_type=err.task_type,
        status_code=err.status_code,
    )


def ack_for(response: RunwareResponse, task_uuid: str) -> dict[str, Any]:
    """Return the acknowledgement for a submitted task, or raise its error.

    A ``conflictTaskUUID`` error (Runware's "this taskUUID was used already", HTTP 400 with
    an empty ``data``) means the job exists: that is returned as an acknowledgement with
    ``"duplicate": True`` so the caller re-attaches instead of failing.
    """
    for err_item in response.errors_for(task_uuid) or (
        [] if response.data_for(task_uuid) else response.errors
    ):
        if is_duplicate_code(err_item.get("code")):
            return {"taskUUID": task_uuid, "duplicate": True}
        raise error_from_item(err_item, response.status_code)
    items = response.data_for(task_uuid)
    if not items:
        raise RunwareTransientError(
            f"Runware's answer did not acknowledge task {task_uuid}", task_uuid=task_uuid
        )
    return items[0]
