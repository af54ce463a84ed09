"""Render from Python without an operator: in ``@task`` code, scripts and notebooks.

The same steps the operators take, as functions on a :class:`RunwareHook`:

* :func:`build_request` validates the operators' parameters into the request to send;
* :func:`submit` submits it, or re-attaches to the job already submitted for the same task
  instance and request (the operators' "never pay twice"), uploading local files first
  when it really submits;
* :func:`wait` polls until the job ends, sleeping in the calling thread; :func:`await_result`
  does the same from a coroutine without blocking the event loop. Both follow the trigger's
  and the operators' state machine (:class:`~airflow_provider_sync.job_watch.JobWatch`), so
  a job ends the same way, with the same result or error;
* :func:`render` does all three.

In a ``@task``::

    from airflow.sdk import task

    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.render import build_request, submit, wait


    @task
    def dub(clip: dict, **context) -> dict:
        hook = RunwareHook("runware_default", max_attempts=8)
        request = build_request(model="lipsync-2", video=clip["video"], audio=clip["audio"])
        job = submit(hook, request, context=context)
        return wait(hook, job, poll_interval=5)

A job is named after the task instance (``context``) and the request, as the operators name
theirs: a retry or a re-run of the task instance re-attaches to the job instead of paying
for another. Outside a task, pass your own :class:`~airflow_provider_sync.idempotency.JobKey`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_sync.exceptions import RunwareError, RunwareTimeoutError, SyncValidationError
from airflow_provider_sync.idempotency import (
    Attachment,
    JobKey,
    idempotency_fingerprint,
    request_fingerprint,
    submit_or_attach,
)
from airflow_provider_sync.job_watch import (
    JobWatch,
    PollSchedule,
    estimate_render_time,
    first_poll_delay,
    format_duration,
)
from airflow_provider_sync.media_plan import MediaPlan, check_transfers, plan_media
from airflow_provider_sync.models import build_video_inference, parse_seconds
from airflow_provider_sync.operators.parameters import (
    INCLUDE_COST,
    INPUT_TRANSFER,
    LIPSYNC_MODEL,
    POLL_INTERVAL,
    TIMEOUT,
)
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths
from airflow_provider_sync.payloads import JobEvent, SyncResult
from airflow_provider_sync.protocol import TaskState

if TYPE_CHECKING:
    from airflow_provider_sync.hooks.runware import RunwareHook

log = logging.getLogger(__name__)


def build_request(
    *,
    video: str,
    model: str = LIPSYNC_MODEL,
    audio: str | Mapping[str, Any] | list[Any] | None = None,
    speech: Mapping[str, Any] | list[Any] | None = None,
    sync_mode: str | None = None,
    temperature: float | None = None,
    active_speaker_detection: bool | Mapping[str, Any] | None = None,
    occlusion_detection_enabled: bool | None = None,
    segments: list[Mapping[str, Any]] | None = None,
    edit_region: str | None = None,
    emotion_prompt: str | None = None,
    tts: Mapping[str, Any] | None = None,
    output_format: str | None = None,
    output_quality: int | None = None,
    include_cost: bool = INCLUDE_COST,
    webhook_url: str | None = None,
    upload_endpoint: str | None = None,
    ttl: int | None = None,
    safety: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``videoInference`` task for these parameters, validated as the operators validate theirs.

    The parameters are the operators' (:class:`~airflow_provider_sync.operators.sync.SyncLipsyncOperator`,
    :class:`~airflow_provider_sync.operators.sync.SyncReactOperator`), with the same meaning
    and the same defaults; any Sync model may be named. Local files and object-storage URLs
    stay as they are here: :func:`submit` checks and uploads (or presigns) them.

    :raises SyncValidationError: listing every problem, each naming its parameter.
    """
    task = build_video_inference(
        model=model,
        video=video,
        audio=audio,
        speech=speech,
        sync_mode=sync_mode,
        temperature=temperature,
        active_speaker_detection=active_speaker_detection,
        occlusion_detection_enabled=occlusion_detection_enabled,
        segments=segments,
        edit_region=edit_region,
        emotion_prompt=emotion_prompt,
        tts=tts,
        output_format=output_format,
        output_quality=output_quality,
        include_cost=include_cost,
        webhook_url=webhook_url,
        upload_endpoint=upload_endpoint,
        ttl=ttl,
        safety=safety,
        allowed_models=None,  # any Sync model
    )
    return task.to_payload()


def task_instance_key(
    ti: Any,
    request: dict[str, Any],
    *,
    media_versions: list[str] | tuple[str, ...] = (),
    idempotency_key: str | None = None,
    force_new_job: bool = False,
) -> JobKey:
    """The identity of the job that task instance ``ti`` renders ``request`` with.

    The operators name their jobs the same way, so a task instance that submits from Python
    re-attaches exactly as an operator would (``docs/idempotency.md``).

    :param ti: the running task instance (``context["ti"]``).
    :param media_versions: the content identity of the local files the request names (what
        :func:`submit` computes): new content makes a new job.
    :param idempotency_key: your own identity for the job, replacing the request's fingerprint.
    :param force_new_job: each try of the task instance submits a new job.
    :raises SyncValidationError: for an ``idempotency_key`` that is not a short printable string.
    """
    own = idempotency_fingerprint(idempotency_key)
    map_index = getattr(ti, "map_index", None)
    return JobKey(
        dag_id=str(ti.dag_id),
        run_id=str(ti.run_id),
        task_id=str(ti.task_id),
        map_index=int(map_index) if map_index is not None else -1,
        fingerprint=own or request_fingerprint(request, media_versions),
        # A new try means new UUIDs; a lost answer retried within this try finds its job.
        attempt=int(getattr(ti, "try_number", 0) or 0) if force_new_job else None,
    )


@dataclass(frozen=True)
class Submission:
    """A job that :func:`submit` submitted or re-attached to.

    :param task_uuid: the job's ``taskUUID`` (look it up with ``getResponse``).
    :param submitted: ``False`` when an earlier submission of the same job was found.
    :param model: the AIR id of the request's model.
    :param output_format: the request's output format (``MP4`` when Runware's default).
    :param started: epoch seconds when it was submitted or re-attached; a wait's ``timeout``
        counts from here.
    :param expected_render_time: seconds, estimated from the request's text for speech-only
        jobs; the first poll is timed on it.
    :param state: the job's state when it had already finished, else ``None``.
    :param uploaded_media: media UUID -> which input, for the files uploaded by this call.
    """

    task_uuid: str
    submitted: bool
    model: str
    output_format: str
    started: float
    expected_render_time: float | None = None
    state: TaskState | None = None
    uploaded_media: dict[str, str] = field(default_factory=dict)


def submit(
    hook: RunwareHook,
    request: dict[str, Any],
    *,
    context: Mapping[str, Any] | None = None,
    key: JobKey | None = None,
    idempotency_key: str | None = None,
    force_new_job: bool = False,
    input_transfer: str = INPUT_TRANSFER,
    timeout: float | timedelta = TIMEOUT,
    allowed_media_roots: Sequence[str] | str | None = None,
    trusted_paths: bool = False,
    logger: logging.Logger | logging.LoggerAdapter[Any] | Any = log,
) -> Submission:
    """Submit ``request``, or re-attach to the job already submitted for it.

    Local files and object-storage URLs among the inputs are checked first (they must exist,
    have an allowed type and size), then -- only when a job is really submitted -- uploaded,
    or sent as presigned URLs (``input_transfer``), as the operators do.

    Values in ``@task`` code often come from the run (``params``, ``dag_run.conf``, XCom), so
    file inputs are held to the allowed media roots, as the operators hold paths that come
    from templates: ``[sync] allowed_media_roots`` plus ``allowed_media_roots``. Media UUIDs
    and http(s) URLs are not files and are not restricted.

    :param request: from :func:`build_request`.
    :param context: the running task's context (``**context`` of a ``@task``, or
        ``get_current_context()``): the job is named after its task instance.
    :param key: the job's identity, instead of ``context`` (outside a task).
    :param idempotency_key: with ``context``: your own identity for the job.
    :param force_new_job: with ``context``: each try of the task submits a new job.
    :param input_transfer: ``auto``, ``presign`` or ``upload`` (see the operators).
    :param timeout: how long a presigned URL must stay valid (the wait's ``timeout``).
    :param allowed_media_roots: folders and object-storage prefixes file inputs may come from,
        besides the deployment's.
    :param trusted_paths: the file inputs are the code's own literal choice (not from the
        run): no media roots apply, as for a path written literally in an operator.
    :raises SyncValidationError: the request or a file is invalid or not allowed, or neither
        ``context`` nor ``key`` was given; nothing was sent.
    :raises RunwareError: Runware refused the submission (see ``docs/errors.md``).
    """
    if (context is None) == (key is None):
        raise SyncValidationError(
            "submit: give either context (in a running task) or key, not both or neither"
        )
    transfer, _ = check_transfers(input_transfer, "auto")
    plan: MediaPlan = plan_media(
        request,
        roots=MediaRoots() if trusted_paths else MediaRoots.configured(_roots(allowed_media_roots)),
        origins=TemplatedPaths() if trusted_paths else TemplatedPaths(video=True, audio=True),
        input_transfer=transfer,
        output_transfer="download",
        output_path=None,
        overwrite=False,
        logger=logger,
    )
    if context is not None:
        key = task_instance_key(
            context["ti"],
            request,
            media_versions=plan.media_versions,
            idempotency_key=idempotency_key,
            force_new_job=force_new_job,
        )
    seconds = parse_seconds(timeout, "timeout")
    attachment: Attachment = submit_or_attach(
        hook, request, cast(JobKey, key), logger, prepare=lambda task: plan.prepare(task, hook, seconds)
    )
    logger.info(
        "Runware task UUID: %s (%s)",
        attachment.task_uuid,
        "submitted" if attachment.submitted else "re-attached to an existing job",
    )
    return Submission(
        task_uuid=attachment.task_uuid,
        submitted=attachment.submitted,
        model=str(request["model"]),
        output_format=str(request.get("outputFormat") or "MP4"),
        started=time.time(),
        expected_render_time=estimate_render_time(request),
        state=attachment.state if attachment.finished else None,
        uploaded_media=dict(plan.uploaded_media),
    )


def wait(
    hook: RunwareHook,
    job: Submission,
    *,
    poll_interval: float | timedelta = POLL_INTERVAL,
    timeout: float | timedelta = TIMEOUT,
    expected_render_time: float | timedelta | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] | Any = log,
) -> SyncResult:
    """Poll until ``job`` ends, sleeping in this thread; return the result or raise its error.

    Polls on the operators' schedule (``docs/deferrable.md``): transient faults keep the wait
    going, "task not found" is tolerated for a grace period, and the wait ends at the next
    poll after the job does.

    :param timeout: counted from :attr:`Submission.started`; reaching it does not cancel the job.
    :raises RunwareJobError: the job ended in error (a job error naming an uploaded file's
        media UUID says which input it is).
    :raises RunwareTimeoutError: ``timeout`` passed first; the job may still finish.
    :raises RunwareError: a permanent fault while polling (the key was refused ...).
    """
    watch, schedule = _watch(job, poll_interval, timeout, expected_render_time)
    event = _finished(watch, job)
    while event is None:
        left = watch.seconds_left() or 0.0
        time.sleep(max(0.0, min(schedule.next_delay(), left)))
        event = watch.check_deadline()
        if event is None:
            try:
                # Bounded by the deadline however slowly Runware answers.
                event = watch.on_state(hook.get_task_state(job.task_uuid, deadline=watch.deadline))
            except RunwareError as exc:
                event = watch.on_failure(exc)
                if event is None:
                    logger.warning("Polling Runware task %s failed, will retry: %s", job.task_uuid, exc)
        if event is None and watch.progress_due():
            logger.info(watch.progress_line())
    return job_result(event, job, lambda: hook.base_url, logger)


async def await_result(
    hook: RunwareHook,
    job: Submission,
    *,
    poll_interval: float | timedelta = POLL_INTERVAL,
    timeout: float | timedelta = TIMEOUT,
    expected_render_time: float | timedelta | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] | Any = log,
) -> SyncResult:
    """:func:`wait` for a coroutine: ``asyncio.sleep`` between polls and the hook's async
    client, so the event loop runs on while Runware renders. Raises as :func:`wait`.

    Several waits may share one hook (``asyncio.gather``): they share its async client, which
    belongs to the running event loop. Close it with ``await hook.aclose()`` in that loop
    when you are done.
    """
    watch, schedule = _watch(job, poll_interval, timeout, expected_render_time)
    settings = await hook.asettings()
    event = _finished(watch, job)
    while event is None:
        left = watch.seconds_left() or 0.0
        await asyncio.sleep(max(0.0, min(schedule.next_delay(), left)))
        event = watch.check_deadline()
        if event is None:
            try:
                event = watch.on_state(await hook.aget_task_state(job.task_uuid, deadline=watch.deadline))
            except RunwareError as exc:
                event = watch.on_failure(exc)
                if event is None:
                    logger.warning("Polling Runware task %s failed, will retry: %s", job.task_uuid, exc)
        if event is None and watch.progress_due():
            logger.info(watch.progress_line())
    return job_result(event, job, lambda: settings.base_url, logger)


def render(
    *,
    video: str,
    hook: RunwareHook | None = None,
    context: Mapping[str, Any] | None = None,
    key: JobKey | None = None,
    poll_interval: float | timedelta = POLL_INTERVAL,
    timeout: float | timedelta = TIMEOUT,
    idempotency_key: str | None = None,
    force_new_job: bool = False,
    input_transfer: str = INPUT_TRANSFER,
    allowed_media_roots: Sequence[str] | str | None = None,
    trusted_paths: bool = False,
    logger: logging.Logger | logging.LoggerAdapter[Any] | Any = log,
    **parameters: Any,
) -> SyncResult:
    """:func:`build_request`, :func:`submit` and :func:`wait` in one call.

    :param hook: the hook to use (default: one on ``runware_default``, closed afterwards).
    :param parameters: the other parameters of :func:`build_request` (``model``, ``audio`` ...).
    :raises SyncValidationError: as :func:`build_request` and :func:`submit`.
    :raises RunwareError: as :func:`submit` and :func:`wait`.
    """
    from airflow_provider_sync.hooks.runware import RunwareHook

    request = build_request(video=video, **parameters)
    own = hook is None
    active = RunwareHook() if hook is None else hook
    try:
        job = submit(
            active,
            request,
            context=context,
            key=key,
            idempotency_key=idempotency_key,
            force_new_job=force_new_job,
            input_transfer=input_transfer,
            timeout=timeout,
            allowed_media_roots=allowed_media_roots,
            trusted_paths=trusted_paths,
            logger=logger,
        )
        return wait(active, job, poll_interval=poll_interval, timeout=timeout, logger=logger)
    finally:
        if own:
            active.close()


def job_result(
    event: JobEvent,
    job: Submission,
    base_url: Callable[[], str],
    logger: logging.Logger | logging.LoggerAdapter[Any] | Any = log,
) -> SyncResult:
    """The result of a job whose wait ended with ``event``, or its error raised.

    Read as the operators read theirs (:mod:`airflow_provider_sync.output_delivery`): a job
    whose only failure was delivering to an ``uploadEndpoint`` still returns its ``videoURL``.

    :param base_url: gives the connection's API URL (a plain-http ``videoURL`` is accepted
        only from an API on loopback: an emulator).
    :raises RunwareJobError: the job failed, or reported success with an unusable ``videoURL``.
    :raises RunwareTimeoutError: the wait's timeout passed first.
    """
    from airflow_provider_sync.idempotency import kept_job_error
    from airflow_provider_sync.job_finish import ended_job
    from airflow_provider_sync.output_delivery import read_success

    task_uuid = str(event["task_uuid"])
    success, _ = ended_job(
        event,
        job.uploaded_media,
        logger,
        timeout_error=lambda timed_out: RunwareTimeoutError(
            timed_out["message"], task_uuid=task_uuid, code="timeout"
        ),
        job_error=lambda error: kept_job_error(error, task_uuid),
    )
    result = read_success(
        success, model=job.model, output_format=job.output_format, base_url=base_url, logger=logger
    )
    cost = f", cost USD {result['cost']}" if result["cost"] is not None else ""
    logger.info(
        "Runware task %s succeeded after %s%s", task_uuid, format_duration(float(success["elapsed"])), cost
    )
    return result


def _watch(
    job: Submission,
    poll_interval: float | timedelta,
    timeout: float | timedelta,
    expected_render_time: float | timedelta | None,
) -> tuple[JobWatch, PollSchedule]:
    interval = parse_seconds(poll_interval, "poll_interval")
    deadline = job.started + parse_seconds(timeout, "timeout")
    expected = (
        parse_seconds(expected_render_time, "expected_render_time")
        if expected_render_time is not None
        else job.expected_render_time
    )
    first, ramp = first_poll_delay(interval, expected)
    if not job.submitted:
        first, ramp = min(first, interval), False  # it has been running a while
    return (
        JobWatch(job.task_uuid, deadline=deadline, started=job.started),
        PollSchedule(interval, first, job.started, ramp=ramp),
    )


def _roots(value: Sequence[str] | str | None) -> Sequence[str]:
    if isinstance(value, str):
        return value.replace("\n", ",").split(",")
    return value or ()


def _finished(watch: JobWatch, job: Submission) -> JobEvent | None:
    """The final event of a job found already finished when it was re-attached to."""
    return watch.on_state(job.state) if job.state is not None else None


__all__ = [
    "Submission",
    "await_result",
    "build_request",
    "job_result",
    "render",
    "submit",
    "task_instance_key",
    "wait",
]
