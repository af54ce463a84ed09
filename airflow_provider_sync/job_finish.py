"""How a task that waited for a Runware job ends: its result, saved where asked, or its error.

Whoever waited -- the operators (which submitted the job) or
:class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor` (which only waits for one) --
ends the wait with a :data:`~airflow_provider_sync.payloads.JobEvent` (from the trigger, or
from polling in the worker) and hands it to a :class:`JobFinish`:

* a success becomes the task's result (:func:`~airflow_provider_sync.output_delivery.read_success`),
  the "Output video" link's XCom, the video put in place
  (:func:`~airflow_provider_sync.output_delivery.place_output`) and the output asset's event;
* a job rendered but not delivered (``uploadFailed`` with a ``videoURL``) is taken as a
  success (:func:`~airflow_provider_sync.output_delivery.undelivered_as_success`);
* any other error, and a timeout, are raised as the caller words them: the operator and the
  sensor advise differently (a retry of the operator may submit, the sensor's never does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import RunwareError
from airflow_provider_sync.job_watch import format_duration
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY
from airflow_provider_sync.payloads import DeliveryCheck, JobEvent, SuccessEvent, SyncResult, TimeoutEvent

if TYPE_CHECKING:
    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.output_delivery import OutputTarget

#: Seconds Airflow's own deferral timeout leaves the trigger beyond its deadline and the
#: delivery wait, so that the trigger's event (naming the job) normally comes first.
DEFERRAL_MARGIN = 30.0

#: Keys of the result an output asset's event carries in its ``extra``.
ASSET_EXTRA_KEYS = ("task_uuid", "model", "video_url", "output_path", "cost")


def execution_deadline(execution_timeout: timedelta | None, ti: Any, now: float) -> float | None:
    """When the task's ``execution_timeout`` ends (epoch seconds), counted from the try's start."""
    if execution_timeout is None:
        return None
    start = getattr(ti, "start_date", None)
    began = start.timestamp() if isinstance(start, datetime) else now
    return began + execution_timeout.total_seconds()


@dataclass(frozen=True)
class JobFinish:
    """Ends a task that waited for a job, the same way for every task that waits.

    :param target: where the video goes (and whether Runware was asked to PUT it there).
    :param model: the model's AIR id the job was submitted with (``None``: not known here).
    :param hook: the task's hook (downloads, and the API URL a ``videoURL`` is judged by).
    :param logger: the task's logger.
    :param output_asset: the asset whose event carries the result's summary, if any.
    :param uploaded_media: media UUID -> which input, for the files the task uploaded: a job
        error naming one says which input it is.
    """

    target: OutputTarget
    model: str | None
    hook: RunwareHook
    logger: Any
    output_asset: Any = None
    uploaded_media: Mapping[str, str] | None = None

    def finish(
        self,
        event: JobEvent,
        context: Any,
        *,
        timeout_error: Callable[[TimeoutEvent], Exception],
        job_error: Callable[[RunwareError], Exception],
    ) -> SyncResult:
        """The result of a job that ended, or its error raised.

        :param timeout_error: the exception for a wait that timed out.
        :param job_error: the exception for a job that failed (given the typed error the
            event stands for).
        """
        success, delivery = ended_job(
            event, self.uploaded_media, self.logger, timeout_error=timeout_error, job_error=job_error
        )
        return self.succeed(success, context, delivery)

    def succeed(self, event: SuccessEvent, context: Any, delivery: DeliveryCheck | None = None) -> SyncResult:
        """The result of a job that succeeded, after its video is in place.

        :param delivery: what is known of Runware's PUT already (see
            :func:`~airflow_provider_sync.output_delivery.place_output`).
        """
        from airflow_provider_sync.output_delivery import place_output, read_success

        task_uuid = str(event["task_uuid"])
        result = read_success(
            event,
            model=self.model,
            output_format=self.target.output_format,
            base_url=lambda: self.hook.base_url,
            logger=self.logger,
        )
        cost = f", cost USD {result['cost']}" if result["cost"] is not None else ""
        self.logger.info(
            "Runware task %s %s after %s%s: %s",
            task_uuid,
            "rendered (not delivered)" if delivery and delivery["status"] == "failed" else "succeeded",
            format_duration(float(event.get("elapsed") or 0)),
            cost,
            describe_source(str(result["video_url"])),
        )
        context["ti"].xcom_push(key=VIDEO_URL_XCOM_KEY, value=result["video_url"] or "")
        result = place_output(result, self.target, self.hook, self.logger, delivery or event.get("delivery"))
        if self.output_asset is not None:
            extra: dict[str, Any] = {k: v for k, v in result.items() if k in ASSET_EXTRA_KEYS}
            context["outlet_events"][self.output_asset].extra = extra
        return result


def ended_job(
    event: JobEvent,
    uploaded_media: Mapping[str, str] | None,
    logger: Any,
    *,
    timeout_error: Callable[[TimeoutEvent], Exception],
    job_error: Callable[[RunwareError], Exception],
) -> tuple[SuccessEvent, DeliveryCheck | None]:
    """The success of a job whose wait ended with ``event``, or the wait's error raised.

    A job whose only failure was Runware's PUT to its ``uploadEndpoint`` counts as a success
    when its answer gives the ``videoURL`` (the render is paid; its video is taken from
    there), with a delivery check saying the PUT failed. Every other failure is raised as
    ``job_error`` makes it, its message naming which input an uploaded media UUID is.

    :param uploaded_media: media UUID -> which input, for the files the task uploaded.
    :returns: the success event, and what is known of the delivery (``None``: see the event).
    """
    from airflow_provider_sync.media_plan import name_uploaded_media
    from airflow_provider_sync.output_delivery import undelivered_as_success
    from airflow_provider_sync.payloads import error_from_details

    if event["status"] == "success":
        return event, None
    if event["status"] == "timeout":
        raise timeout_error(event)
    details = dict(event["error"])
    if uploaded_media:
        # A file the task uploaded, named by its media UUID: say which input it is.
        message = str(details.get("message") or "job failed")
        details["message"] = name_uploaded_media(message, dict(uploaded_media))
    error = error_from_details(details, str(event["task_uuid"]))
    taken = undelivered_as_success(error, event, logger)
    if taken is None:
        raise job_error(error)
    # Its PUT failed: nothing to wait for.
    return taken, {"status": "failed", "bytes": None, "waited": 0.0}


def lineage_output(result: SyncResult) -> str | None:
    """What lineage reports as a finished job's output: where it was saved, or its URL."""
    return result.get("output_path") or result.get("video_url")


__all__ = [
    "ASSET_EXTRA_KEYS",
    "DEFERRAL_MARGIN",
    "JobFinish",
    "ended_job",
    "execution_deadline",
    "lineage_output",
]
