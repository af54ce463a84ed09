"""``SyncRenderSensor``: waits for a render submitted earlier, and ends it as the operators do.

Submit now, wait later: a Sync operator with ``wait_for_completion=False`` submits its job
(or re-attaches to the one its task instance already has) and returns at once; this sensor,
given that job's task UUID, waits for it -- deferred to the triggerer by default, or polling
in the worker (``mode="poke"`` or ``"reschedule"``) -- and then returns the operator's result
and saves the video as the operator would have. It never submits anything, so it never pays.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_sync._compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    Asset,
    BaseSensorOperator,
    PokeReturnValue,
    TaskDeferralError,
)
from airflow_provider_sync.connection_form import check_hook_params
from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareError,
    RunwareJobCancelledError,
    RunwareSensorTimeoutError,
    RunwareTimeoutError,
    RunwareUploadFailedError,
    RunwareWaitedJobError,
    SyncValidationError,
)
from airflow_provider_sync.job_finish import DEFERRAL_MARGIN, execution_deadline
from airflow_provider_sync.job_watch import DEFAULT_NOT_FOUND_GRACE, JobWatch, format_duration
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY, SyncOutputVideoLink
from airflow_provider_sync.models import normalise_output_format, parse_seconds, short_repr
from airflow_provider_sync.operators.parameters import CONN_ID, POLL_INTERVAL, TIMEOUT, default_deferrable
from airflow_provider_sync.operators.parse_time import (
    check_switch,
    check_trusted_only,
    is_run_time_value,
    is_unresolved,
    mapped_partial_kwargs,
)
from airflow_provider_sync.paths import MediaRoots, video_format_of

if TYPE_CHECKING:
    from airflow.sdk import Context, XComArg

    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.output_delivery import OutputTarget
    from airflow_provider_sync.payloads import JobEvent, ResumeInfo, SyncResult, TimeoutEvent

#: How long Runware may say "task not found" for the UUID before the sensor believes it
#: (:data:`~airflow_provider_sync.job_watch.DEFAULT_NOT_FOUND_GRACE`; read when a wait
#: starts, so a test can shorten it).
NOT_FOUND_GRACE = DEFAULT_NOT_FOUND_GRACE


@dataclass(frozen=True)
class _Job:
    """The job a sensor waits for, as its ``task_uuid`` (and the submission with it) says.

    :param output_format: ``None`` when no submission said: taken from the video's URL then.
    :param delivered_to: the object Runware PUTs the video to (checked against the roots).
    """

    task_uuid: str
    model: str | None
    output_format: str | None
    delivered_to: str | None
    prior_etag: str | None


class SyncRenderSensor(BaseSensorOperator):
    """Waits for a Sync render submitted earlier, then returns its result and saves its video.

    Give it what a :class:`~airflow_provider_sync.operators.sync.SyncLipsyncOperator` or
    :class:`~airflow_provider_sync.operators.sync.SyncReactOperator` with
    ``wait_for_completion=False`` returned (``task_uuid=submit.output``, mapped or not), or a
    task UUID alone (``task_uuid="{{ ti.xcom_pull('submit', key='task_uuid') }}"``). It
    returns (and pushes to XCom) the same dict as the operator would have -- ``task_uuid``,
    ``model``, ``status``, ``video_url``, ``video_uuid``, ``cost``, ``seed``,
    ``output_format``, ``elapsed``, ``raw``, and ``output_path`` when the video was saved --
    emits the same asset event, shows the same "Output video" link and reports the video to
    OpenLineage.

    It only waits: it never submits or re-renders, so it never pays for anything. A job that
    failed fails it with the job's typed error, without retries (a retry would find the same
    job); clearing the task that submitted the job renders it again.

    :param task_uuid: the job to wait for: a Sync operator's return value with
        ``wait_for_completion=False`` (a :class:`~airflow_provider_sync.payloads.SyncSubmission`,
        which also says the model, the output format and where Runware PUTs the video), or
        the bare Runware task UUID (the result's ``model`` is then ``None``, and the output
        format is read from the video's URL). Templated.
    :param runware_conn_id: the ``runware`` connection (the same account that submitted the job).
        Templated.
    :param output_path: save the video here, as the operator's ``output_path``: a local path
        or an object-storage URL; ending in ``/`` means "this folder, named after the job".
        The worker downloads it from ``videoURL``. Without it, a video Runware PUT into
        object storage for the submitting operator (``delivered_to``) is waited for and
        reported as ``output_path``. Templated.
    :param overwrite: replace an existing file at ``output_path`` (default: fail, before
        waiting). Not templated.
    :param allowed_media_roots: local folders and object-storage prefixes that a run-time
        ``output_path`` -- and the object a submission says Runware delivers to, which reaches
        the sensor through XCom -- may name, besides ``[sync] allowed_media_roots``. Not
        templated.
    :param output_asset: an :class:`~airflow.sdk.Asset` (or its URI) added to ``outlets``;
        the finished render emits an event on it, as the operator's does.
    :param deferrable: wait in the triggerer, holding no worker slot; ``False`` polls from the
        worker in the sensor's ``mode`` (``poke`` holds the slot, ``reschedule`` frees it between polls).
        Either way the job is looked at once first: a job that ended already is finished at once.
        Not given, the deployment decides as for the operators: ``[sync] default_deferrable``
        if set, else Airflow's ``[operators] default_deferrable`` if set, else ``True``.
    :param poke_interval: seconds between polls (default 10, as the operators').
    :param timeout: how long to wait, counted from the sensor's start (default one hour, as
        the operators'). When it passes, the sensor fails without retries, naming the job
        (:class:`~airflow_provider_sync.exceptions.RunwareSensorTimeoutError`, an Airflow
        sensor timeout: ``soft_fail=True`` skips instead); the job may still finish at Runware.
    :param hook_params: settings of the sensor's own hook, overriding its connection's, as
        the operators' ``hook_params`` (``timeout``, ``max_attempts``, ``retry_min_wait``,
        ``retry_max_wait``); the triggerer polls with the connection's. Not templated.
    """

    template_fields: Sequence[str] = ("task_uuid", "runware_conn_id", "output_path")
    template_fields_renderers: ClassVar[dict[str, str]] = {"task_uuid": "json"}
    ui_color = "#f2e6ff"
    operator_extra_links = (SyncOutputVideoLink(),)

    def __init__(
        self,
        *,
        task_uuid: str | Mapping[str, Any] | XComArg,
        runware_conn_id: str = CONN_ID,
        output_path: str | XComArg | None = None,
        overwrite: bool = False,
        allowed_media_roots: Sequence[str] | None = None,
        output_asset: Asset | str | None = None,
        deferrable: bool | None = None,
        poke_interval: float | timedelta = POLL_INTERVAL,
        timeout: float | timedelta = TIMEOUT,
        hook_params: Mapping[str, float | int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.task_uuid = task_uuid
        self.runware_conn_id = runware_conn_id
        self.output_path = output_path
        self.overwrite = overwrite
        self.allowed_media_roots = allowed_media_roots
        self.output_asset = Asset(output_asset) if isinstance(output_asset, str) else output_asset
        if self.output_asset is not None and self.output_asset not in self.outlets:
            self.outlets = [*self.outlets, self.output_asset]
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.hook_params = dict(hook_params) if isinstance(hook_params, Mapping) else hook_params
        self._lineage_output: str | None = None
        self._job: _Job | None = None
        self._watch: JobWatch | None = None
        partial = mapped_partial_kwargs(self)
        check_trusted_only(self, partial)
        check_switch(overwrite, "overwrite")
        # Decided now, before templates are rendered: afterwards every value looks literal.
        self._output_from_run_time = is_run_time_value(self, "output_path", partial)
        self._job_from_run_time = is_run_time_value(self, "task_uuid", partial)
        parse_seconds(self.poke_interval, "poke_interval")
        parse_seconds(self.timeout, "timeout")
        MediaRoots.parse(allowed_media_roots or (), "allowed_media_roots")
        check_hook_params(self.hook_params)
        if not is_unresolved(task_uuid):
            self._read_job()  # a literal typo is a DAG import error

    # ------------------------------------------------------------------ the job

    def _read_job(self) -> _Job:
        """The job :attr:`task_uuid` names, checked before any request.

        :raises SyncValidationError: not a task UUID (or a submission holding one), or a
            submission whose fields are not what a Sync operator returns.
        """
        value: Any = self.task_uuid
        given = value if isinstance(value, Mapping) else {"task_uuid": value}
        raw = given.get("task_uuid")
        text = raw.strip() if isinstance(raw, str) else ""
        try:
            uuid.UUID(text)
        except ValueError:
            raise SyncValidationError(
                f"task_uuid: {short_repr(value)} is not a Runware task UUID, nor what a Sync operator "
                "returns with wait_for_completion=False (pass its return value, e.g. "
                "task_uuid=submit.output, or its 'task_uuid' XCom)"
            ) from None
        model = given.get("model")
        if model is not None and not (isinstance(model, str) and 0 < len(model) <= 128):
            raise SyncValidationError(
                f"task_uuid: the submission's model {short_repr(model)} is not a model id"
            )
        fmt = normalise_output_format(given.get("output_format"), "task_uuid['output_format']")
        delivered_to = given.get("delivered_to")
        prior_etag = given.get("prior_etag")
        for name, field in (("delivered_to", delivered_to), ("prior_etag", prior_etag)):
            if field is not None and not isinstance(field, str):
                raise SyncValidationError(
                    f"task_uuid: the submission's {name} {short_repr(field)} is not text"
                )
        return _Job(text, model, fmt, delivered_to or None, prior_etag or None)

    def _media_roots(self) -> MediaRoots:
        """Where run-time paths may point: ``[sync] allowed_media_roots`` plus ours."""
        return MediaRoots.configured(self.allowed_media_roots or ())

    def _prepared(self, context: Context) -> _Job:
        """The job, with the places its video may go checked (once per process).

        :raises SyncValidationError: before any request, for a bad ``task_uuid``, an
            ``output_path`` that is refused or exists, or a delivery object outside the roots.
        """
        if self._job is not None:
            return self._job
        from airflow_provider_sync.media_plan import check_output, has_output_path

        job = self._read_job()
        roots = self._media_roots()
        if job.delivered_to:
            # It reached us through XCom: held to the roots like any run-time path. Runware
            # writes it, and the sensor itself only when the delivery never came.
            fmt = job.output_format or video_format_of(job.delivered_to) or "MP4"
            check_output(job.delivered_to, roots, self._job_from_run_time, fmt, True, None)
        if has_output_path(self.output_path):
            path = str(self.output_path).strip()
            fmt = job.output_format or video_format_of(path) or "MP4"
            # The file named after the job when a folder: it must not exist yet either.
            task_uuid = job.task_uuid if path.endswith("/") else None
            check_output(path, roots, self._output_from_run_time, fmt, self.overwrite, task_uuid)
        self._job = job
        return job

    def _output_target(self, job: _Job, output_format: str) -> OutputTarget:
        """Where the video of ``job`` goes: the sensor's ``output_path``, or the submission's delivery."""
        from airflow_provider_sync.media_plan import check_output, has_output_path
        from airflow_provider_sync.output_delivery import OutputTarget

        roots = self._media_roots()
        own = str(self.output_path).strip() if has_output_path(self.output_path) else None
        delivered_to = job.delivered_to
        if own is not None and delivered_to is not None:
            place = check_output(own, roots, self._output_from_run_time, output_format, True, job.task_uuid)
            if place != delivered_to:
                delivered_to = None  # saved where the sensor was told; Runware's PUT goes on elsewhere
            else:
                own = None  # the same object: Runware's PUT is the save
        return OutputTarget(
            path=own,
            roots=roots,
            from_template=self._output_from_run_time,
            overwrite=self.overwrite,
            output_format=output_format,
            delivered_to=delivered_to,
            prior_etag=job.prior_etag if delivered_to else None,
        )

    # ------------------------------------------------------------------ execution

    @cached_property
    def hook(self) -> RunwareHook:
        """A hook on :attr:`runware_conn_id` with :attr:`hook_params`, made on first use (after
        templates rendered)."""
        from airflow_provider_sync.hooks.runware import RunwareHook

        return RunwareHook(self.runware_conn_id, **check_hook_params(self.hook_params))

    def _close_hook(self) -> None:
        hook: RunwareHook | None = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()

    def execute(self, context: Context) -> Any:
        """Wait for the job (deferred, or polling in the worker); return its result."""
        try:
            job = self._prepared(context)
            ti = context["ti"]
            ti.xcom_push(key="task_uuid", value=job.task_uuid)
            # The "Output video" link reads this whenever the task stops, deferral included.
            ti.xcom_push(key=VIDEO_URL_XCOM_KEY, value="")
            if not self.deferrable:
                return super().execute(context)
            return self._look_then_defer(context, job)
        except AirflowSensorTimeout as exc:
            if isinstance(exc, RunwareSensorTimeoutError) or self._job is None:
                raise
            raise self._timed_out(self._job.task_uuid) from exc
        except AirflowTaskTimeout as exc:
            if self._job is None:
                raise
            raise RunwareTimeoutError(
                f"The task's execution_timeout ended the wait for Runware task {self._job.task_uuid} "
                f"({exc}). The job may still complete at Runware; a retry waits for it again",
                task_uuid=self._job.task_uuid,
                code="timeout",
            ) from exc
        finally:
            self._close_hook()  # also when deferring: TaskDeferred passes through here

    def _look_then_defer(self, context: Context, job: _Job) -> Any:
        """Look once (a fan-out often waits for jobs that ended already), then defer."""
        try:
            done = self.poke(context)
        except (AirflowException, AirflowFailException) as exc:
            # As BaseSensorOperator.execute treats a poke's failure.
            self._skip_if_soft(exc)
            raise
        if isinstance(done, PokeReturnValue) and done.is_done:
            return done.xcom_value
        self._defer(context, job)

    def _defer(self, context: Context, job: _Job) -> None:
        from airflow_provider_sync.output_delivery import DELIVERY_WAIT, check_url
        from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

        started = time.time()
        deadline, deadline_from = self._deadline(context, started)
        # Where the video goes is decided on resume (the format may come from the video's
        # URL); only a delivery to check is decided now, for the triggerer to wait on.
        delivered_to = self._output_target(job, job.output_format or "MP4").delivered_to
        resume: ResumeInfo = {
            "model": job.model,
            "output_format": job.output_format or "",
            "delivered_to": delivered_to,
            "prior_etag": job.prior_etag,
            "deadline_from": deadline_from,
        }
        self.defer(
            trigger=RunwareTaskTrigger(
                task_uuid=job.task_uuid,
                runware_conn_id=self.runware_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=deadline,
                started=started,
                first_poll_delay=float(self.poke_interval),
                not_found_grace=NOT_FOUND_GRACE,
                resume=dict(resume),
                delivery_check_url=(
                    check_url(delivered_to, deadline - started + DELIVERY_WAIT) if delivered_to else None
                ),
                delivery_prior_etag=job.prior_etag,
                delivery_wait=DELIVERY_WAIT,
            ),
            method_name="execute_complete",
            # A backstop: the trigger's own deadline (and its event naming the job) comes first.
            timeout=timedelta(seconds=max(1.0, deadline - time.time()) + DELIVERY_WAIT + DEFERRAL_MARGIN),
        )

    def _deadline(self, context: Context, started: float) -> tuple[float, str]:
        """The end of the wait (epoch seconds), and whether ``timeout`` or ``execution_timeout`` sets it."""
        deadline, deadline_from = started + float(self.timeout), "timeout"
        execution_ends = execution_deadline(self.execution_timeout, context["ti"], started)
        if execution_ends is not None and execution_ends < deadline:
            deadline, deadline_from = execution_ends, "execution_timeout"
        return deadline, deadline_from

    def _watch_for(self, job: _Job, context: Context) -> JobWatch:
        """The wait's state machine: one per process (a rescheduled sensor starts a new one,
        counting from its first poke, which Airflow remembers)."""
        if self._watch is None:
            started = time.time()
            first = None
            if getattr(self, "reschedule", False):
                try:
                    first = context["ti"].get_first_reschedule_date(context)
                except Exception:  # an Airflow without it: count from this poke
                    first = None
            started = first.timestamp() if first is not None else started
            self._watch = JobWatch(
                job.task_uuid,
                started=started,
                not_found_grace=NOT_FOUND_GRACE,
                # Between reschedules nothing remembers a "not found": count it from the start.
                not_found_since=started if first is not None else None,
            )
        return self._watch

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One ``getResponse`` for the job: ``False`` while it runs, its result once it ended.

        :raises RunwareError: the job failed (typed, not retried), or Runware refused the poll.
        """
        job = self._prepared(context)
        watch = self._watch_for(job, context)
        deadline, _ = self._deadline(context, watch.started)
        event: JobEvent | None
        try:
            # Bounded by the wait's end however slowly Runware answers.
            event = watch.on_state(
                self.hook.get_task_state(job.task_uuid, deadline=max(deadline, time.time() + 1))
            )
        except RunwareError as exc:
            event = watch.on_failure(exc)
            if event is None:
                self.log.warning("Polling Runware task %s failed, will retry: %s", job.task_uuid, exc)
        if event is None:
            if watch.progress_due():
                self.log.info(watch.progress_line())
            return False
        self.log.info(watch.final_line(event))
        return PokeReturnValue(is_done=True, xcom_value=self._finish(event, job, context, "timeout"))

    def execute_complete(self, context: Context, event: JobEvent) -> SyncResult:
        """Resume after the trigger fired: return the result or raise the job's error."""
        try:
            job = self._prepared(context)
            resume: Mapping[str, Any] = (event.get("resume") if isinstance(event, dict) else None) or {}
            deadline_from = str(resume.get("deadline_from") or "timeout")
            return self._finish(event, job, context, deadline_from)
        finally:
            self._close_hook()

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's resume entry point; a deferral Airflow itself timed out names the job."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            if isinstance(exc, RunwareSensorTimeoutError):
                raise
            self._skip_if_soft(exc)
            raise self._timed_out(self._read_job().task_uuid) from exc
        except TaskDeferralError as exc:  # Airflow 2.11 passes an ended deferral on as it is
            if next_method != "__fail__":
                raise
            self._skip_if_soft(exc)
            raise self._timed_out(self._read_job().task_uuid) from exc

    def _skip_if_soft(self, exc: BaseException) -> None:
        # Airflow 3.0's sensor raises the timeout of an ended deferral outside its soft_fail
        # check (3.1 nests the two): skip here, so soft_fail means the same on every minor.
        if getattr(self, "soft_fail", False) or getattr(self, "never_fail", False):
            raise AirflowSkipException(f"Skipping ({type(exc).__name__}): soft_fail or never_fail") from exc

    # ------------------------------------------------------------------ the end

    def _finish(self, event: JobEvent, job: _Job, context: Context, deadline_from: str) -> SyncResult:
        """The result of the job, or its error raised."""
        from airflow_provider_sync.job_finish import JobFinish, lineage_output

        own = str(self.output_path) if self.output_path is not None else None
        output_format = job.output_format or _format_of(event) or video_format_of(own) or "MP4"

        def timed_out(event: TimeoutEvent) -> RunwareTimeoutError:
            if deadline_from == "execution_timeout":
                return RunwareTimeoutError(
                    f"{event['message']} (the task's execution_timeout came before the sensor's "
                    "timeout; a retry waits for it again)",
                    task_uuid=job.task_uuid,
                    code="timeout",
                )
            return self._timed_out(job.task_uuid, event.get("last_status"))

        finish = JobFinish(
            target=self._output_target(job, output_format),
            model=job.model,
            hook=self.hook,
            logger=self.log,
            output_asset=self.output_asset,
        )
        result = finish.finish(
            event, context, timeout_error=timed_out, job_error=lambda e: _waited_job_error(e, job.task_uuid)
        )
        self._lineage_output = lineage_output(result)
        return result

    def _timed_out(self, task_uuid: str, last_status: str | None = None) -> RunwareSensorTimeoutError:
        """The sensor's ``timeout`` passed: fail naming the job, which goes on at Runware."""
        if last_status is None and self._watch is not None:
            last_status = self._watch.last_status
        last = f"; last status: {last_status}" if last_status else ""
        return RunwareSensorTimeoutError(
            f"Runware task {task_uuid} did not end within the sensor's timeout "
            f"({format_duration(float(self.timeout))}{last}). The job may still complete at Runware: "
            f"look it up with getResponse for taskUUID {task_uuid}; clearing this sensor waits for it "
            "again (a sensor never submits)",
            task_uuid=task_uuid,
            code="timeout",
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets of the wait: the video written (its inputs are the submitting task's)."""
        from airflow_provider_sync.lineage import operator_lineage

        return operator_lineage([], [self._lineage_output] if self._lineage_output else [])

    def on_kill(self) -> None:
        """Say that the job goes on: the sensor only waited for it."""
        task_uuid = self._job.task_uuid if self._job is not None else "(see the task_uuid XCom)"
        self.log.warning(
            "Sensor killed; Runware job %s goes on (the sensor only waits for it). Clearing the "
            "sensor waits for it again.",
            task_uuid,
        )


def _format_of(event: JobEvent) -> str | None:
    """The output format the finished video's URL ends in, if it says."""
    if event["status"] == "success":
        return video_format_of(str((event.get("result") or {}).get("videoURL") or ""))
    if event["status"] == "error":
        return video_format_of(str(event["error"].get("video_url") or ""))
    return None


def _waited_job_error(error: RunwareError, task_uuid: str) -> RunwareError:
    """``error`` worded for a sensor: it submits nothing, so a retry cannot help.

    Refusals of the poll itself (the key, the account) come back unchanged.
    """
    if isinstance(error, RunwareAPIError):
        return error
    if error.code == "taskNotFound":
        advice = (
            "check that it is the task UUID a Sync operator returned and that runware_conn_id "
            "names the account that submitted it"
        )
    elif isinstance(error, RunwareJobCancelledError):
        advice = "to render again, set force_new_job=True on the task that submitted it and clear that task"
    elif isinstance(error, RunwareUploadFailedError):
        advice = (
            "Runware gave no videoURL; clearing the task that submitted it with "
            "output_transfer='download' renders it again, delivered through the worker"
        )
    else:
        advice = (
            "clearing the task that submitted it submits a new job (a failed one is never re-attached to)"
        )
    message = (
        f"Runware job {task_uuid} ended in error ({error.code or 'no code'}: {error.message}). "
        f"This sensor only waits and submits nothing, so retrying it would find the same: {advice}"
    )
    kwargs: dict[str, Any] = {
        "code": error.code,
        "parameter": error.parameter,
        "task_uuid": error.task_uuid or task_uuid,
        "task_type": error.task_type,
        "status_code": error.status_code,
    }
    if isinstance(error, RunwareUploadFailedError):
        return RunwareUploadFailedError(
            message, video_url=error.video_url, video_uuid=error.video_uuid, **kwargs
        )
    if isinstance(error, AirflowFailException):
        return type(error)(message, **kwargs)
    return RunwareWaitedJobError(message, **kwargs)


__all__ = ["SyncRenderSensor"]
