"""The JSON that crosses process boundaries: trigger events and the task's XCom result.

A trigger's event is stored in the metadata database and read back by a worker, maybe
another version of this package after an upgrade; the XCom result is what downstream tasks
and users read. Both are plain JSON-able dicts; the :class:`~typing.TypedDict` classes here
say exactly which keys they hold, so a change to either is a visible change of contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from typing_extensions import NotRequired, TypedDict

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareJobError,
    RunwareModerationError,
    RunwareUploadFailedError,
)

#: The error classes an event may name, by the name it carries. Explicit (not derived from
#: class names) because stored events outlive a refactoring: renaming a class must not
#: change what an old event means. Anything else reads as :class:`RunwareJobError`.
ERROR_CLASSES: Mapping[str, type[RunwareError]] = {
    "RunwareAPIError": RunwareAPIError,
    "RunwareAuthError": RunwareAuthError,
    "RunwareInsufficientCreditsError": RunwareInsufficientCreditsError,
    "RunwareJobError": RunwareJobError,
    "RunwareModerationError": RunwareModerationError,
    "RunwareJobCancelledError": RunwareJobCancelledError,
    "RunwareUploadFailedError": RunwareUploadFailedError,
}


def error_class_name(error: RunwareError | None) -> str:
    """The :data:`ERROR_CLASSES` name an event carries for ``error``."""
    for name, cls in ERROR_CLASSES.items():
        if type(error) is cls:
            return name
    return "RunwareJobError"


def error_class(name: Any) -> type[RunwareError]:
    """The class an event's ``error_class`` names (:class:`RunwareJobError` when unknown)."""
    return ERROR_CLASSES.get(str(name), RunwareJobError)


class ErrorDetails(TypedDict):
    """Runware's error, as an event carries it."""

    code: str | None
    message: str
    parameter: NotRequired[str | None]
    task_uuid: str | None
    task_type: NotRequired[str | None]
    status_code: NotRequired[int | None]
    #: One of :data:`ERROR_CLASSES`: how the worker re-raises it.
    error_class: NotRequired[str]
    #: ``uploadFailed`` only: where Runware's answer says the rendered (and paid) video is.
    video_url: NotRequired[str | None]
    video_uuid: NotRequired[str | None]


def error_from_details(details: Mapping[str, Any], task_uuid: str | None = None) -> RunwareError:
    """The exception an event's :class:`ErrorDetails` stand for, ready to raise.

    The class comes from ``error_class`` (:func:`error_class`); an ``uploadFailed`` error
    keeps ``video_url`` / ``video_uuid``, so the worker can still fetch the paid video.
    """
    cls = error_class(details.get("error_class"))
    kwargs: dict[str, Any] = {
        "code": _opt_text(details.get("code")),
        "parameter": _opt_text(details.get("parameter")),
        "task_uuid": _opt_text(details.get("task_uuid")) or task_uuid,
        "task_type": _opt_text(details.get("task_type")),
        "status_code": details.get("status_code") if isinstance(details.get("status_code"), int) else None,
    }
    message = str(details.get("message") or "job failed")
    if cls is RunwareUploadFailedError:
        return RunwareUploadFailedError(
            message,
            video_url=_opt_text(details.get("video_url")),
            video_uuid=_opt_text(details.get("video_uuid")),
            **kwargs,
        )
    return cls(message, **kwargs)


def _opt_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ResumeInfo(TypedDict):
    """What the task needs to finish after its trigger fired, echoed in every event.

    Carried by the trigger, not by ``defer()``'s ``kwargs``: ``dag.test()`` (and so the
    testing kit's ``run_dag``) resumes a task with the event alone.
    """

    #: The model's AIR id the job was submitted with (``None``: a sensor that was given the
    #: task UUID alone does not know it).
    model: str | None
    #: The output format sent (``MP4`` when Runware's default): names and checks the file.
    output_format: str
    #: The object Runware was asked to PUT the video to (a presigned ``uploadEndpoint``).
    delivered_to: NotRequired[str | None]
    #: The ETag the object at ``delivered_to`` had before the job (``overwrite=True``): an
    #: object still carrying it is not the delivery.
    prior_etag: NotRequired[str | None]
    #: What set the trigger's deadline: ``timeout`` or ``execution_timeout``.
    deadline_from: NotRequired[str]
    #: Media UUID -> which input (``audio[0].source (id 'fr') /data/fr.wav``), for the files
    #: this try uploaded: a job error naming one says which it is.
    uploaded_media: NotRequired[dict[str, str]]


class DeliveryCheck(TypedDict):
    """Whether Runware's PUT to a presigned ``uploadEndpoint`` has landed.

    ``delivered``: the object is there (``bytes`` is its size); ``missing``: it did not
    appear within ``waited`` seconds after the job's success; ``failed``: Runware said its
    PUT failed (``uploadFailed``), so there is nothing to wait for.
    """

    status: Literal["delivered", "missing", "failed"]
    bytes: int | None
    waited: float


class SuccessEvent(TypedDict):
    """The job rendered; ``result`` is Runware's success item, every field kept."""

    status: Literal["success"]
    task_uuid: str
    elapsed: float
    polls: int
    result: dict[str, Any]
    resume: NotRequired[ResumeInfo]
    #: Set by the trigger when it waited for the delivery itself.
    delivery: NotRequired[DeliveryCheck]


class ErrorEvent(TypedDict):
    """The job (or the wait for it) failed."""

    status: Literal["error"]
    task_uuid: str
    elapsed: float
    polls: NotRequired[int]
    error: ErrorDetails
    resume: NotRequired[ResumeInfo]


class TimeoutEvent(TypedDict):
    """The operator's ``timeout`` passed first; the job may still finish at Runware."""

    status: Literal["timeout"]
    task_uuid: str
    elapsed: float
    polls: int
    message: str
    #: The job's status at the last poll (``processing``, or ``submitted`` before any).
    last_status: NotRequired[str]
    resume: NotRequired[ResumeInfo]


#: What :class:`~airflow_provider_sync.triggers.runware.RunwareTaskTrigger` fires, and what
#: the worker-side wait returns: one state machine, one contract.
JobEvent: TypeAlias = SuccessEvent | ErrorEvent | TimeoutEvent


class SyncResult(TypedDict):
    """What a Sync operator returns (and pushes as its ``return_value`` XCom), and what
    :class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor` returns for the same job."""

    task_uuid: str
    #: The model's AIR id; ``None`` only from a sensor given the task UUID alone (without
    #: the submitting operator's :class:`SyncSubmission`).
    model: str | None
    status: Literal["success"]
    video_url: str | None
    video_uuid: str | None
    cost: float | None
    seed: int | None
    output_format: str
    elapsed: float | None
    #: Runware's whole success item, known fields or not.
    raw: dict[str, Any]
    #: Where the video was saved, when ``output_path`` was set.
    output_path: NotRequired[str]
    output_bytes: NotRequired[int]


class SyncSubmission(TypedDict):
    """What a Sync operator returns with ``wait_for_completion=False``: the job it submitted
    (or re-attached to), not yet waited for.

    Hand it to :class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor` as its
    ``task_uuid`` (``task_uuid=submit.output``): besides the UUID it tells the sensor the
    model and output format for the result, and where Runware was asked to PUT the video.
    """

    task_uuid: str
    #: Always ``submitted``: the job is at Runware; whether it has ended is the sensor's to find.
    status: Literal["submitted"]
    #: ``False`` when this run re-attached to a job an earlier run submitted.
    submitted: bool
    #: The model's AIR id.
    model: str
    #: The output format sent (``MP4`` when Runware's default).
    output_format: str
    #: The object Runware was asked to PUT the video to (a presigned ``uploadEndpoint``).
    delivered_to: str | None
    #: The ETag the object at ``delivered_to`` had before the job (not the delivery).
    prior_etag: str | None
