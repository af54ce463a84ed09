"""Operators that run Sync's models through Runware: lip-sync and performance re-animation."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from airflow_provider_sync._compat import Asset, BaseOperator
from airflow_provider_sync.describe import describe_request, describe_source
from airflow_provider_sync.exceptions import (
    RunwareError,
    RunwareTimeoutError,
    SyncValidationError,
)
from airflow_provider_sync.job_finish import DEFERRAL_MARGIN, execution_deadline
from airflow_provider_sync.job_watch import PollSchedule, estimate_render_time, first_poll_delay
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY, SyncOutputVideoLink
from airflow_provider_sync.media_plan import check_transfers
from airflow_provider_sync.models import (
    build_video_inference,
    normalise_output_format,
    parse_flag,
    parse_seconds,
    resolve_model,
)
from airflow_provider_sync.operators.parameters import (
    CONN_ID,
    FILE_PARAMETERS,
    INCLUDE_COST,
    INPUT_TRANSFER,
    LIPSYNC_MODEL,
    OUTPUT_TRANSFER,
    POLL_INTERVAL,
    REACT_MODEL,
    TEMPLATE_EXT,
    TIMEOUT,
    default_deferrable,
)
from airflow_provider_sync.operators.parse_time import (
    check_literals,
    check_switch,
    check_trusted_only,
    mapped_partial_kwargs,
    names_template_file,
    path_origins,
)
from airflow_provider_sync.paths import MediaRoots
from airflow_provider_sync.payloads import JobEvent, ResumeInfo, SyncResult, SyncSubmission, TimeoutEvent
from airflow_provider_sync.pricing import parse_max_cost
from airflow_provider_sync.url_checks import check_callback_target

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context, XComArg
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.media_plan import MediaPlan
    from airflow_provider_sync.output_delivery import OutputTarget

T = TypeVar("T")

#: Parameters that become part of the request (the others steer polling).
_REQUEST_PARAMS = (
    "model",
    "video",
    "audio",
    "speech",
    "sync_mode",
    "temperature",
    "active_speaker_detection",
    "occlusion_detection_enabled",
    "segments",
    "tts",
    "output_format",
    "output_quality",
    "include_cost",
    "webhook_url",
    "upload_endpoint",
    "ttl",
    "safety",
)


def _pulled_task_uuid(context: Context) -> str:
    try:
        value = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key="task_uuid")
    except Exception:  # only for a message: never let it hide the real failure
        value = None
    return str(value) if value else "(unknown: see the task_uuid XCom)"


def _seconds(value: Any, name: str) -> float:
    # Finite, > 0 and bounded whatever the type: timedelta(0), "nan" or -5 would fail later.
    return parse_seconds(value, name)


def _arguments(local_names: dict[str, Any]) -> dict[str, Any]:
    """The named parameters of an ``__init__``, from ``locals()`` taken as its first statement."""
    return {k: v for k, v in local_names.items() if k not in ("self", "kwargs", "__class__")}


@dataclass(frozen=True)
class _CheckedRun:
    """What :meth:`SyncBaseOperator._checked_run` found valid: the run's request and plan."""

    request: dict[str, Any]
    plan: MediaPlan
    poll_interval: float
    timeout: float
    expected: float | None
    force_new_job: bool
    output_transfer: str


class SyncBaseOperator(BaseOperator):
    """Shared machinery of :class:`SyncLipsyncOperator` and :class:`SyncReactOperator`.

    Submits one ``videoInference`` job, then waits for it: deferred to the triggerer by
    default, or polling in the worker with ``deferrable=False``. Returns (and pushes to XCom)
    a JSON-able dict: ``task_uuid``, ``model``, ``status``, ``video_url``, ``video_uuid``,
    ``cost``, ``seed``, ``output_format``, ``elapsed``. Its parameters are those of
    :class:`SyncLipsyncOperator`; ``model`` has no default here.
    """

    allowed_models: ClassVar[tuple[str, ...]] = ()
    template_fields: Sequence[str] = (
        *_REQUEST_PARAMS,
        "output_path",
        "runware_conn_id",
        "poll_interval",
        "timeout",
        "expected_render_time",
        "idempotency_key",
        "force_new_job",
        "input_transfer",
        "output_transfer",
        "max_cost",
    )
    #: ``audio``, ``speech`` and ``segments`` may name a templated file next to the DAG that
    #: holds their value (``segments="segments/fr.json"``): it is rendered, then parsed.
    template_ext: Sequence[str] = TEMPLATE_EXT
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "audio": "json",
        "speech": "json",
        "segments": "json",
        "active_speaker_detection": "json",
        "tts": "json",
        "safety": "json",
    }
    ui_color = "#f2e6ff"
    operator_extra_links = (SyncOutputVideoLink(),)

    def __init__(
        self,
        *,
        model: str,
        video: str | XComArg,
        audio: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | XComArg | None = None,
        speech: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | XComArg | None = None,
        sync_mode: str | None = None,
        temperature: float | str | None = None,
        active_speaker_detection: bool | str | Mapping[str, Any] | None = None,
        occlusion_detection_enabled: bool | str | None = None,
        segments: str | Sequence[Mapping[str, Any]] | XComArg | None = None,
        output_format: str | None = None,
        output_quality: int | str | None = None,
        include_cost: bool | str = INCLUDE_COST,
        output_path: str | XComArg | None = None,
        output_asset: Asset | str | None = None,
        runware_conn_id: str = CONN_ID,
        deferrable: bool | None = None,
        poll_interval: float | str = POLL_INTERVAL,
        timeout: float | timedelta | str = TIMEOUT,
        expected_render_time: float | timedelta | str | None = None,
        idempotency_key: str | None = None,
        force_new_job: bool | str = False,
        overwrite: bool = False,
        allowed_media_roots: Sequence[str] | str | None = None,
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        input_transfer: str = INPUT_TRANSFER,
        output_transfer: str = OUTPUT_TRANSFER,
        tts: str | Mapping[str, Any] | None = None,
        ttl: int | str | None = None,
        safety: str | Mapping[str, Any] | None = None,
        max_cost: float | str | None = None,
        hook_params: Mapping[str, float | int] | None = None,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.video = video
        self.audio = audio
        self.speech = speech
        self.model = model
        self.sync_mode = sync_mode
        self.temperature = temperature
        self.active_speaker_detection = active_speaker_detection
        self.occlusion_detection_enabled = occlusion_detection_enabled
        self.segments = segments
        self.output_format = output_format
        self.output_quality = output_quality
        self.include_cost = include_cost
        self.output_path = output_path
        self.output_asset = Asset(output_asset) if isinstance(output_asset, str) else output_asset
        if self.output_asset is not None and self.output_asset not in self.outlets:
            self.outlets = [*self.outlets, self.output_asset]
        self.runware_conn_id = runware_conn_id
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.expected_render_time = expected_render_time
        self.idempotency_key = idempotency_key
        self.force_new_job = force_new_job
        self.overwrite = overwrite
        self.allowed_media_roots = allowed_media_roots
        self.webhook_url = webhook_url
        self.upload_endpoint = upload_endpoint
        self.input_transfer = input_transfer
        self.output_transfer = output_transfer
        self.tts = tts
        self.ttl = ttl
        self.safety = safety
        self.max_cost = max_cost
        self.hook_params = dict(hook_params) if isinstance(hook_params, Mapping) else hook_params
        self.wait_for_completion = wait_for_completion
        # What lineage reports as the output, once the video has a place.
        self._lineage_output: str | None = None
        partial = mapped_partial_kwargs(self)
        check_trusted_only(self, partial)
        # Decided now, before templates are rendered: afterwards every value looks literal.
        self._path_origins = path_origins(self, partial)
        if partial is None:
            # A mapped task's literal values were checked when partial() was called; the
            # expanded ones are run-time values, checked by execute with everything else.
            self._check_literals({name: getattr(self, name) for name in self._parameter_names()})

    # ------------------------------------------------------------------ parse time

    @classmethod
    def _request_param_names(cls) -> tuple[str, ...]:
        """The parameters that become part of the request."""
        return _REQUEST_PARAMS

    @classmethod
    def _parameter_names(cls) -> tuple[str, ...]:
        """Every Sync parameter, request or not (not ``deferrable`` and ``output_asset``)."""
        return (
            *cls._request_param_names(),
            "output_path",
            "runware_conn_id",
            "poll_interval",
            "timeout",
            "expected_render_time",
            "idempotency_key",
            "force_new_job",
            "overwrite",
            "allowed_media_roots",
            "input_transfer",
            "output_transfer",
            "max_cost",
            "hook_params",
            "wait_for_completion",
        )

    @classmethod
    def _check_literals(cls, values: Mapping[str, Any]) -> None:
        """Fail at DAG parse time on literal values; run-time ones wait for ``execute``.

        :raises SyncValidationError: listing every problem found.
        """
        check_literals(values, request_params=cls._request_param_names(), allowed_models=cls.allowed_models)

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Airflow's ``partial()``, checking the Sync parameters written literally in it.

        A typo such as ``sync_mode="remapp"`` is a DAG import error, as it is for an ordinary
        task, instead of failing every mapped task instance at run time. Parameters left to
        ``expand()`` are checked when each mapped task runs.

        :raises SyncValidationError: listing every problem of the literal values.
        """
        cls._check_literals({k: v for k, v in kwargs.items() if k in cls._parameter_names()})
        output_asset = kwargs.get("output_asset")
        if output_asset is not None:
            # A mapped task's outlets are its partial() arguments' (its __init__ runs only when
            # each instance runs): the asset must be among them for Airflow to record events.
            asset = Asset(output_asset) if isinstance(output_asset, str) else output_asset
            outlets = list(kwargs.get("outlets") or [])
            if asset not in outlets:
                kwargs["outlets"] = [*outlets, asset]
        return super().partial(**kwargs)

    # ------------------------------------------------------------------ templates

    def resolve_template_files(self) -> None:
        """Read the templated files named by ``audio``, ``speech`` or ``segments``.

        Airflow would read any template field whose value ends in ``.json``; here only the
        whole value of those three is a file name (a webhook URL or a speech text ending in
        ``.json`` stays text).
        """
        for name in FILE_PARAMETERS:
            value = getattr(self, name, None)
            if names_template_file(value):
                env = self.get_template_env()
                try:
                    setattr(self, name, env.loader.get_source(env, value.strip())[0])  # type: ignore[union-attr]
                except Exception:
                    # As Airflow does: the task fails when rendering, naming the missing file.
                    self.log.exception("Failed to read the template file %r of %s", value, name)
        self.prepare_template()

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        # Airflow renders a value ending in a template extension as a file name, at any depth;
        # here only the whole value of audio, speech and segments may be one.
        if parent is not self:
            super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
            return
        fields = list(template_fields)
        files = [f for f in fields if f in FILE_PARAMETERS and names_template_file(getattr(self, f, None))]
        for name in files:
            setattr(self, name, getattr(self, name).strip())
        self.template_ext = ()  # shadows the class's while the other fields render
        try:
            others = [f for f in fields if f not in files]
            super()._do_render_template_fields(parent, others, context, jinja_env, seen_oids)
        finally:
            del self.template_ext
        super()._do_render_template_fields(parent, files, context, jinja_env, seen_oids)

    # ------------------------------------------------------------------ request

    def _request_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._request_param_names()}

    def _build(self, params: dict[str, Any], task_uuid: str | None = None) -> dict[str, Any]:
        task = build_video_inference(**params, task_uuid=task_uuid, allowed_models=self.allowed_models)
        return task.to_payload()

    def build_request(self, task_uuid: str | None = None) -> dict[str, Any]:
        """Return the exact task object that would be sent for the current parameters.

        Call it after templates are rendered to see what a run sends.

        :raises SyncValidationError: if the parameters are invalid.
        """
        return self._build(self._request_params(), task_uuid)

    # ------------------------------------------------------------------ execution

    @cached_property
    def hook(self) -> RunwareHook:
        """A hook on :attr:`runware_conn_id` with :attr:`hook_params`, made on first use (after
        templates rendered)."""
        from airflow_provider_sync.connection_form import check_hook_params
        from airflow_provider_sync.hooks.runware import RunwareHook

        return RunwareHook(self.runware_conn_id, **check_hook_params(self.hook_params))

    def _close_hook(self) -> None:
        hook: RunwareHook | None = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()  # the next use makes a fresh hook (and fresh clients)

    def _media_roots(self) -> MediaRoots:
        """Where run-time paths may point: ``[sync] allowed_media_roots`` plus ours."""
        return MediaRoots.configured(self.allowed_media_roots or ())

    def execute(self, context: Context) -> SyncResult | SyncSubmission:
        """Validate, submit (or re-attach to) the job, then defer or poll until it ends
        (with ``wait_for_completion=False``: return at once)."""
        try:
            return self._submit_and_wait(context)
        finally:
            self._close_hook()  # also when deferring: TaskDeferred passes through here

    def _checked_run(self) -> _CheckedRun:
        """Everything a run needs, checked before the first request.

        :raises SyncValidationError: listing every problem at once -- the request's values,
            the timing values, every path (output and inputs) and the transfer modes -- so a
            run does not reveal them one per try.
        """
        from airflow_provider_sync.connection_form import check_hook_params
        from airflow_provider_sync.idempotency import idempotency_fingerprint
        from airflow_provider_sync.media_plan import plan_media

        problems: list[str] = []

        def checked(fn: Callable[..., T], *args: Any) -> T | None:
            try:
                return fn(*args)
            except SyncValidationError as exc:
                problems.extend(exc.problems)
                return None

        request = checked(self.build_request)
        for param, wire in (("webhook_url", "webhookURL"), ("upload_endpoint", "uploadEndpoint")):
            if request is not None and request.get(wire):
                # Against the connection: Runware calls it with this deployment's key.
                checked(check_callback_target, str(request[wire]), param, self.hook.base_url)
        poll_interval = checked(_seconds, self.poll_interval, "poll_interval")
        timeout = checked(_seconds, self.timeout, "timeout")
        expected: float | None = None
        if self.expected_render_time not in (None, ""):
            expected = checked(_seconds, self.expected_render_time, "expected_render_time")
        elif request is not None:
            expected = estimate_render_time(request)
        force_new_job = checked(parse_flag, self.force_new_job, "force_new_job")
        checked(idempotency_fingerprint, self.idempotency_key)
        transfers = checked(check_transfers, self.input_transfer, self.output_transfer)
        checked(check_hook_params, self.hook_params)
        # Given literally it was checked at parse time; from expand() it is checked here.
        checked(check_switch, self.wait_for_completion, "wait_for_completion")
        checked(parse_max_cost, self.max_cost)
        roots = checked(self._media_roots)
        plan = None
        if roots is not None:
            # With an invalid request, the paths are still checked (without reading files).
            plan = checked(
                functools.partial(
                    plan_media,
                    request if request is not None else self._media_of_invalid_request(),
                    roots=roots,
                    origins=self._path_origins,
                    input_transfer=transfers[0] if transfers else INPUT_TRANSFER,
                    output_transfer=transfers[1] if transfers else OUTPUT_TRANSFER,
                    output_path=self.output_path,
                    overwrite=self.overwrite,
                    logger=self.log,
                    identify=request is not None,
                )
            )
        if problems:
            raise SyncValidationError(list(dict.fromkeys(problems)))
        # Without problems, every check returned its value.
        return _CheckedRun(
            cast("dict[str, Any]", request),
            cast("MediaPlan", plan),
            cast(float, poll_interval),
            cast(float, timeout),
            expected,
            cast(bool, force_new_job),
            transfers[1] if transfers else OUTPUT_TRANSFER,
        )

    def _media_of_invalid_request(self) -> dict[str, Any]:
        """The media of a request that did not validate, as far as they can be read, so that
        their paths are checked in the same run."""
        from airflow_provider_sync.models import OUTPUT_FORMATS, normalise_audio

        try:
            audio = normalise_audio(self.audio)
        except SyncValidationError:
            audio = None
        items = [a for a in audio if isinstance(a, Mapping)] if isinstance(audio, list) else []
        fmt = self.output_format.strip().upper() if isinstance(self.output_format, str) else None
        return {
            "inputs": {"video": self.video if isinstance(self.video, str) else None, "audio": items},
            "outputFormat": fmt if fmt in OUTPUT_FORMATS else None,
        }

    def _submit_and_wait(self, context: Context) -> SyncResult | SyncSubmission:
        from airflow_provider_sync.idempotency import submit_or_attach
        from airflow_provider_sync.render import task_instance_key

        # Airflow evaluates extra links whenever the task stops, deferral included: an empty
        # value until the video exists keeps that lookup from logging "XCom not found".
        context["ti"].xcom_push(key=VIDEO_URL_XCOM_KEY, value="")

        # Everything is checked before the first request, uploads included: values from
        # templates fail here as literal ones failed when the DAG was parsed.
        run = self._checked_run()
        request, plan, timeout, output_transfer = run.request, run.plan, run.timeout, run.output_transfer
        poll_interval, expected = run.poll_interval, run.expected
        if not self.wait_for_completion and plan.output is not None and not plan.direct_output:
            raise SyncValidationError(
                "output_path: with wait_for_completion=False this task saves nothing, and Runware "
                f"cannot deliver to {plan.output.path[:300]!r} itself (only to object storage this "
                "worker can presign, with output_transfer='auto' or 'presign'); give output_path "
                "to the SyncRenderSensor that waits for the job instead"
            )
        ti = context["ti"]
        # Named as the Python render API names its jobs: the same task instance and request
        # re-attach to one job whichever way they were submitted.
        key = task_instance_key(
            ti,
            request,
            media_versions=plan.media_versions,
            idempotency_key=self.idempotency_key,
            force_new_job=run.force_new_job,
        )
        self.log.info(
            "Request for %s: video=%s, %s",
            request["model"],
            describe_source(request["inputs"]["video"]),
            describe_request(request),
        )
        self._check_cost(request, plan)
        attachment = submit_or_attach(
            self.hook,
            request,
            key,
            self.log,
            prepare=lambda task: plan.prepare(task, self.hook, timeout),
            # A job rendered but never delivered, with no videoURL, may be rendered again
            # only when the user now asks for delivery through the worker.
            rerender_undelivered=output_transfer == "download",
        )
        task_uuid = self._task_uuid = attachment.task_uuid
        ti.xcom_push(key="task_uuid", value=task_uuid)
        self.log.info(
            "Runware task UUID: %s (%s)",
            task_uuid,
            "submitted" if attachment.submitted else "re-attached to an existing job",
        )
        if not self.wait_for_completion:
            return self._not_waiting(task_uuid, attachment.submitted, request, plan)
        started = time.time()
        deadline, deadline_from = started + timeout, "timeout"
        execution_ends = execution_deadline(self.execution_timeout, ti, started)
        if execution_ends is not None and execution_ends < deadline:
            deadline, deadline_from = execution_ends, "execution_timeout"
        # The job (new or re-attached) PUTs its video here: the name follows from its UUID.
        # Everything the resumed task needs travels with the trigger's event (see ResumeInfo).
        resume: ResumeInfo = {
            "model": request["model"],
            "output_format": plan.output_format,
            "delivered_to": plan.delivered_to(task_uuid),
            "prior_etag": plan.prior_etag,
            "deadline_from": deadline_from,
        }
        if plan.uploaded_media:  # this try uploaded files: which input each one is
            resume["uploaded_media"] = dict(plan.uploaded_media)
        if attachment.finished and attachment.state is not None:
            from airflow_provider_sync.job_watch import JobWatch

            event = JobWatch(task_uuid, deadline=deadline, started=started).on_state(attachment.state)
            assert event is not None
            return self._finish(event, resume, context, worded=True)
        first_delay, ramp = first_poll_delay(poll_interval, expected)
        if attachment.submitted is False:
            first_delay, ramp = min(first_delay, poll_interval), False  # it has been running a while
        schedule = PollSchedule(poll_interval, first_delay, started, ramp=ramp)
        if self.deferrable:
            self._defer(task_uuid, resume, poll_interval, deadline, started, first_delay, ramp, timeout)
        return self._finish(self._poll_in_worker(task_uuid, schedule, deadline), resume, context)

    def _not_waiting(
        self, task_uuid: str, submitted: bool, request: dict[str, Any], plan: MediaPlan
    ) -> SyncSubmission:
        """The job, handed on as it is (``wait_for_completion=False``)."""
        submission: SyncSubmission = {
            "task_uuid": task_uuid,
            "status": "submitted",
            "submitted": submitted,
            "model": request["model"],
            "output_format": plan.output_format,
            # What a sensor needs to find Runware's PUT, which only this task could sign.
            "delivered_to": plan.delivered_to(task_uuid),
            "prior_etag": plan.prior_etag,
        }
        self.log.info(
            "Not waiting for job %s (wait_for_completion=False); SyncRenderSensor(task_uuid=...) "
            "given this task's return value waits for it and saves its video",
            task_uuid,
        )
        return submission

    def _defer(
        self,
        task_uuid: str,
        resume: ResumeInfo,
        poll_interval: float,
        deadline: float,
        started: float,
        first_delay: float,
        ramp: bool,
        timeout: float,
    ) -> None:
        from airflow_provider_sync.output_delivery import DELIVERY_WAIT, check_url
        from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

        delivered_to = resume.get("delivered_to")
        wait = DELIVERY_WAIT
        self.defer(
            trigger=RunwareTaskTrigger(
                task_uuid=task_uuid,
                runware_conn_id=self.runware_conn_id,
                poll_interval=poll_interval,
                deadline=deadline,
                started=started,
                first_poll_delay=first_delay,
                ramp=ramp,
                resume=dict(resume),
                # The triggerer waits for Runware's PUT itself, with a presigned HEAD that
                # does not block its loop, so the worker resumes only to record the result.
                delivery_check_url=check_url(delivered_to, timeout + wait) if delivered_to else None,
                delivery_prior_etag=resume.get("prior_etag"),
                delivery_wait=wait,
            ),
            method_name="execute_complete",
            # Airflow ends the deferral by then even if the trigger cannot: the trigger's own
            # deadline comes first (the earlier of timeout and execution_timeout), so this is
            # a backstop with room for the delivery wait. Airflow 3 does not apply
            # execution_timeout to a deferred task by itself.
            timeout=timedelta(seconds=max(1.0, deadline - time.time()) + wait + DEFERRAL_MARGIN),
        )

    def _check_cost(self, request: dict[str, Any], plan: MediaPlan) -> None:
        """Log the render's estimated price; refuse to submit when it is above ``max_cost``.

        :raises SyncValidationError: the estimate exceeds ``max_cost`` (nothing is sent).
        """
        from airflow_provider_sync.pricing import audio_duration, estimate_cost

        files = {m.source: m for m in plan.uploads}

        def measure(source: str) -> float | None:
            media = files.get(source)
            return audio_duration(media.source, media.location or None) if media is not None else None

        estimate = estimate_cost(request, measure)
        self.log.info("Estimated price of this render: %s", estimate.describe())
        limit = parse_max_cost(self.max_cost)
        if limit is None:
            return
        if estimate.usd is None:
            self.log.warning(
                "max_cost (USD %s) cannot be checked: the price is unknown before the render (%s)",
                limit,
                estimate.basis,
            )
        elif estimate.usd > limit:
            raise SyncValidationError(
                f"max_cost: the render is estimated at USD {estimate.usd:.4f}, above max_cost USD {limit} "
                f"({estimate.basis}); nothing was submitted"
            )

    def _poll_in_worker(self, task_uuid: str, schedule: PollSchedule, deadline: float) -> JobEvent:
        from airflow_provider_sync.job_watch import JobWatch

        watch = JobWatch(task_uuid, deadline=deadline, started=schedule.started)
        hook = self.hook
        event: JobEvent | None
        while True:
            left = watch.seconds_left() or 0.0
            time.sleep(max(0.0, min(schedule.next_delay(), left)))
            if (event := watch.check_deadline()) is not None:
                return event
            try:
                # Bounded by the deadline however slowly Runware answers (a trickling body).
                event = watch.on_state(hook.get_task_state(task_uuid, deadline=deadline))
            except RunwareError as exc:
                event = watch.on_failure(exc)
                if event is None:
                    self.log.warning("Polling Runware task %s failed, will retry: %s", task_uuid, exc)
            if event is not None:
                return event
            if watch.progress_due():
                self.log.info(watch.progress_line())

    def execute_complete(
        self,
        context: Context,
        event: JobEvent,
        model: str | None = None,
        delivered_to: str | None = None,
    ) -> SyncResult:
        """Resume after the trigger fired: return the result or raise the job's error.

        What the task needs to finish comes with the event (its ``resume``). ``model`` and
        ``delivered_to`` are read only for events of triggers deferred by older versions,
        which passed them as ``defer()`` kwargs.
        """
        resume = event.get("resume") if isinstance(event, dict) else None
        if not resume:
            resume = {
                "model": model or resolve_model(str(self.model)).air_id,
                "output_format": self._output_format_fallback(),
                "delivered_to": delivered_to,
            }
        try:
            return self._finish(event, resume, context)
        finally:
            self._close_hook()

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's resume entry point; a deferral Airflow itself ended names the job.

        When the deferral's ``timeout`` passes (or the trigger crashed), Airflow resumes the
        task only to fail it, with a message that says nothing about Runware: the job keeps
        running there and a retry re-attaches to it, so say which one.
        """
        if next_method != "__fail__":
            return super().resume_execution(next_method, next_kwargs, context)
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except Exception as exc:
            task_uuid = _pulled_task_uuid(context)
            reason = str((next_kwargs or {}).get("error") or exc)
            raise RunwareTimeoutError(
                f"Airflow ended the wait for Runware task {task_uuid} ({reason}). The job may still "
                f"complete at Runware: look it up with getResponse for taskUUID {task_uuid}; a retry "
                "of this task re-attaches to it",
                task_uuid=task_uuid,
                code="deferralEnded",
            ) from exc

    def _output_format_fallback(self) -> str:
        # As the request sent it: a template's "None" or " webm" is normalised there.
        return normalise_output_format(self.output_format) or "MP4"

    def _output_target(self, resume: ResumeInfo) -> OutputTarget:
        from airflow_provider_sync.output_delivery import OutputTarget

        return OutputTarget(
            path=str(self.output_path) if self.output_path is not None else None,
            roots=self._media_roots(),
            from_template=self._path_origins.output_path,
            overwrite=self.overwrite,
            output_format=str(resume.get("output_format") or self._output_format_fallback()),
            delivered_to=resume.get("delivered_to"),
            prior_etag=resume.get("prior_etag"),
        )

    def _finish(
        self, event: JobEvent, resume: ResumeInfo, context: Context, *, worded: bool = False
    ) -> SyncResult:
        """The result of a job that ended, or its error raised.

        :param worded: the event's error was worded for the task already (a job kept by
            ``submit_or_attach``: cancelled, or rendered but not delivered).
        """
        from airflow_provider_sync.idempotency import kept_job_error
        from airflow_provider_sync.job_finish import JobFinish, lineage_output

        task_uuid = str(event["task_uuid"])

        def timed_out(event: TimeoutEvent) -> RunwareTimeoutError:
            message = event["message"]
            if resume.get("deadline_from") == "execution_timeout":
                message += " (the task's execution_timeout came before the operator's timeout)"
            return RunwareTimeoutError(message, task_uuid=task_uuid, code="timeout")

        finish = JobFinish(
            target=self._output_target(resume),
            model=str(resume.get("model") or resolve_model(str(self.model)).air_id),
            hook=self.hook,
            logger=self.log,
            output_asset=self.output_asset,
            uploaded_media=resume.get("uploaded_media"),
        )
        result = finish.finish(
            event,
            context,
            timeout_error=timed_out,
            job_error=lambda error: error if worded else kept_job_error(error, task_uuid),
        )
        self._lineage_output = lineage_output(result)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets of the run: the video and audio read, the video written.

        Named per the OpenLineage naming spec (see :mod:`airflow_provider_sync.lineage`);
        called by the OpenLineage provider when the task succeeds.
        """
        from airflow_provider_sync.lineage import input_sources, operator_lineage

        try:
            sources = input_sources(self.build_request())
        except SyncValidationError:
            sources = []
        outputs = [self._lineage_output] if self._lineage_output else []
        return operator_lineage(sources, outputs)

    def on_kill(self) -> None:
        """Runware has no way to cancel a job: say which one keeps running."""
        task_uuid = getattr(self, "_task_uuid", None)
        self.log.warning(
            "Task killed. Runware offers no cancellation, so job %s (if submitted) runs on "
            "and is billed; a re-run of this task instance re-attaches to it.",
            task_uuid or "(see the task_uuid XCom)",
        )


class SyncLipsyncOperator(SyncBaseOperator):
    """Lip-sync a video to new audio or text-to-speech with Sync's ``lipsync-2``,
    ``lipsync-2-pro`` or ``sync-3``.

    sync-3 takes its own request (Runware's page ``runware.ai/docs/models/sync-3``): where a
    parameter differs for it, the difference is said below. Settings a model does not take are
    refused before anything is sent, naming the model.

    :param video: the video to edit: a Runware media UUID, an http(s) URL, or a file to
        upload first (local path, ``file://`` or object-storage URL such as ``s3://...``).
    :param audio: the new audio: a list of ``{"id", "source"}`` (source as for ``video``),
        or a single source string (given the id ``audio-1``). sync-3: one source only.
    :param speech: text to speak instead of (or besides) audio files: a list of
        ``{"id", "provider": {"name", "voiceId"}, "text"}``. sync-3: one ``{"text", "voice"}``,
        instead of ``audio`` (sync-3 takes exactly one of ``audio``, ``speech``, ``segments``).

        ``audio``, ``speech`` and ``segments`` may also name a templated file next to the DAG
        (or in its ``template_searchpath``) that holds the value as JSON: a name ending in
        ``.json`` or ``.json-tpl``, such as ``segments="segments/fr.json"``. The file is
        rendered with Jinja like any template, then parsed.
    :param model: ``lipsync-2`` (default), ``lipsync-2-pro`` or ``sync-3``, or their AIR ids
        (``sync:lipsync-2@1``, ``sync:lipsync-2-pro@1``, ``sync:3@0``; ``sync:lipsync@3`` is
        read as ``sync:3@0``).
    :param sync_mode: what happens when audio and video lengths differ: ``bounce``, ``loop``,
        ``cut_off``, ``silence`` or ``remap`` (sync-3: not ``loop``).
    :param temperature: expressiveness, 0 to 1.
    :param active_speaker_detection: lip-sync only the detected speaker. sync-3: ``True``
        (auto-detect) or ``{"auto_detect"?, "frame_number" + "coordinates": [x, y]}`` or
        ``{"bounding_boxes": [[x1, y1, x2, y2] or None, ...]}`` (one box per frame).
    :param occlusion_detection_enabled: handle hands or objects in front of the mouth
        (sync-3's ``settings.occlusionDetection``).
    :param segments: map audio to video time ranges: a list of ``{"startTime", "endTime",
        "ref", "audioStartTime"?, "audioEndTime"?}`` (snake_case keys accepted); ``ref`` names
        an audio or speech id. sync-3: each segment names its own ``"audio"`` instead of a ``ref``.
    :param edit_region: sync-3 only (its ``settings.mode``): ``lips``, ``face`` or ``head``.
    :param tts: sync-3 only, with ``speech``: ``{"stability", "similarity_boost"}``, each 0 to 1.
    :param ttl: seconds Runware keeps the result at its URL (1 s to 30 days).
    :param safety: Runware's content check: ``{"check_content": bool, "mode": "none" | "fast"
        | "full"}``.
    :param max_cost: refuse to submit when the render's estimated price (USD) is above this.
        The estimate is logged before every submission: seconds of audio (a local or object-
        storage file's length, or the segments' total) times the model's price in
        :data:`airflow_provider_sync.pricing.PRICES`. When it is unknown (a media UUID, a URL,
        text-to-speech) the render is submitted and a warning says why.
    :param output_format: ``MP4`` (Runware's default), ``WEBM`` or ``MOV``.
    :param output_quality: 20 to 99.
    :param include_cost: ask Runware to report the job's cost (USD).
    :param output_path: save the finished video here: a local path or an object-storage URL
        (``s3://bucket/key.mp4``); ending in ``/`` means "this folder, named after the job".
        The name must end in the output format's suffix (``.mp4``, ``.webm``, ``.mov``).
        Recorded as ``output_path`` in the result.
    :param output_asset: an :class:`~airflow.sdk.Asset` (or its URI) added to ``outlets``; each
        successful render emits an event on it whose ``extra`` holds the task UUID, video URL,
        output path and cost, so downstream DAGs can be scheduled on new renders.
    :param runware_conn_id: the ``runware`` connection (API key and base URL).
    :param deferrable: wait in the triggerer, holding no worker slot; ``False`` polls from the
        worker, for installations without a triggerer. Not given, the deployment decides:
        ``[sync] default_deferrable`` if set, else Airflow's ``[operators] default_deferrable``
        if set, else ``True``.
    :param poll_interval: seconds between status polls.
    :param timeout: how long to wait for the render (seconds or a ``timedelta``).
    :param expected_render_time: roughly how long the render should take (seconds or a
        ``timedelta``). The first poll then waits 60% of it and polling backs off from a
        quarter of ``poll_interval`` to ``poll_interval``. Estimated from the text for
        speech-only requests; otherwise polls start after ``poll_interval``.
    :param idempotency_key: your own identity for the job (templated). When set it replaces
        the request's fingerprint in the job's identity: reruns of this task instance with
        the same key re-attach to one job whatever else changed, and a new key renders anew.
    :param force_new_job: render afresh even if this task instance already has a job: the
        try number becomes part of the job's identity, so each try (a cleared task, an Airflow
        retry) submits a new, paid job, while a lost answer within one try still re-attaches.
    :param overwrite: replace an existing file at ``output_path`` (default: fail before
        submitting anything). Not templated.
    :param allowed_media_roots: local folders and object-storage prefixes that ``video``,
        ``audio`` and ``output_path`` may name when their value comes from a template, XCom
        or ``expand()``, in addition to ``[sync] allowed_media_roots``. Literal paths in the
        DAG file are not restricted. Not templated (a run's conf must not widen it).
    :param input_transfer: how object-storage inputs reach Runware: ``auto`` (default) sends
        a short-lived presigned GET URL where the store can presign (``s3://`` with the Amazon
        provider) and uploads through the worker otherwise; ``presign`` fails before sending
        anything when it cannot; ``upload`` always uploads. The log says which path each input took.
    :param output_transfer: how an object-storage ``output_path`` is written: ``auto`` (default)
        passes a presigned PUT URL as ``uploadEndpoint``, so Runware writes the video into the
        bucket and the worker never downloads it; ``presign`` fails when it cannot; ``download``
        always downloads through the worker. Local targets are always downloaded.
    :param webhook_url: Runware's ``webhookURL``: where Runware POSTs the result when the job
        ends (https, or http on loopback). The operator still polls.
    :param upload_endpoint: Runware's ``uploadEndpoint``: a URL Runware PUTs the finished video
        to (https, or http on loopback). When set, no presigned endpoint is made for ``output_path``.
    :param hook_params: settings of the hook this task makes, overriding its connection's:
        ``timeout``, ``max_attempts``, ``retry_min_wait``, ``retry_max_wait`` (limits as in
        the connection form). They apply to the task's own requests (submission, uploads,
        polls in the worker, the download); the triggerer polls with the connection's.
        Not templated; checked when the DAG is parsed.
    :param wait_for_completion: ``False`` submits the job (or re-attaches to this task
        instance's job, as always) and returns at once, without waiting or saving anything:
        the task's result is then a :class:`~airflow_provider_sync.payloads.SyncSubmission`
        (``task_uuid``, ``model``, ``output_format``, and ``delivered_to`` when Runware PUTs
        the video into ``output_path``'s bucket), to hand to
        :class:`~airflow_provider_sync.sensors.sync.SyncRenderSensor`. ``timeout`` then only
        bounds how long a presigned ``uploadEndpoint`` stays valid. Not templated.
    """

    allowed_models = ("sync:lipsync-2@1", "sync:lipsync-2-pro@1", "sync:3@0")
    template_fields: Sequence[str] = (*SyncBaseOperator.template_fields, "edit_region")

    # Every parameter is spelled out (not passed on as **kwargs) so IDEs, type checkers and
    # the API reference see it; tests/operators/test_signatures.py keeps the lists in step.
    def __init__(
        self,
        *,
        model: str = LIPSYNC_MODEL,
        edit_region: str | None = None,
        video: str | XComArg,
        audio: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | XComArg | None = None,
        speech: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | XComArg | None = None,
        sync_mode: str | None = None,
        temperature: float | str | None = None,
        active_speaker_detection: bool | str | Mapping[str, Any] | None = None,
        occlusion_detection_enabled: bool | str | None = None,
        segments: str | Sequence[Mapping[str, Any]] | XComArg | None = None,
        output_format: str | None = None,
        output_quality: int | str | None = None,
        include_cost: bool | str = INCLUDE_COST,
        output_path: str | XComArg | None = None,
        output_asset: Asset | str | None = None,
        runware_conn_id: str = CONN_ID,
        deferrable: bool | None = None,
        poll_interval: float | str = POLL_INTERVAL,
        timeout: float | timedelta | str = TIMEOUT,
        expected_render_time: float | timedelta | str | None = None,
        idempotency_key: str | None = None,
        force_new_job: bool | str = False,
        overwrite: bool = False,
        allowed_media_roots: Sequence[str] | str | None = None,
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        input_transfer: str = INPUT_TRANSFER,
        output_transfer: str = OUTPUT_TRANSFER,
        tts: str | Mapping[str, Any] | None = None,
        ttl: int | str | None = None,
        safety: str | Mapping[str, Any] | None = None,
        max_cost: float | str | None = None,
        hook_params: Mapping[str, float | int] | None = None,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        arguments = _arguments(locals())
        self.edit_region = arguments.pop("edit_region")  # read by the shared __init__'s checks
        super().__init__(**arguments, **kwargs)

    @classmethod
    def _request_param_names(cls) -> tuple[str, ...]:
        return (*_REQUEST_PARAMS, "edit_region")


class SyncReactOperator(SyncBaseOperator):
    """Re-animate a performance (emotion, expressions, head motion) with Sync's ``react-1``.

    Takes every parameter of :class:`SyncLipsyncOperator`, with the same defaults, except that
    ``segments`` is refused (Runware lists it as "coming soon" for react-1), plus:

    :param model: ``react-1`` (default) or its AIR id ``sync:react-1@1``.
    :param edit_region: what may change: ``lips``, ``face`` (Runware's default) or ``head``.
    :param emotion_prompt: the emotion to act: ``happy``, ``sad``, ``angry``, ``disgusted``,
        ``surprised`` or ``neutral``.
    """

    allowed_models = ("sync:react-1@1",)
    template_fields: Sequence[str] = (*SyncBaseOperator.template_fields, "edit_region", "emotion_prompt")

    def __init__(
        self,
        *,
        model: str = REACT_MODEL,
        edit_region: str | None = None,
        emotion_prompt: str | None = None,
        video: str | XComArg,
        audio: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | XComArg | None = None,
        speech: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | XComArg | None = None,
        sync_mode: str | None = None,
        temperature: float | str | None = None,
        active_speaker_detection: bool | str | Mapping[str, Any] | None = None,
        occlusion_detection_enabled: bool | str | None = None,
        segments: str | Sequence[Mapping[str, Any]] | XComArg | None = None,
        output_format: str | None = None,
        output_quality: int | str | None = None,
        include_cost: bool | str = INCLUDE_COST,
        output_path: str | XComArg | None = None,
        output_asset: Asset | str | None = None,
        runware_conn_id: str = CONN_ID,
        deferrable: bool | None = None,
        poll_interval: float | str = POLL_INTERVAL,
        timeout: float | timedelta | str = TIMEOUT,
        expected_render_time: float | timedelta | str | None = None,
        idempotency_key: str | None = None,
        force_new_job: bool | str = False,
        overwrite: bool = False,
        allowed_media_roots: Sequence[str] | str | None = None,
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        input_transfer: str = INPUT_TRANSFER,
        output_transfer: str = OUTPUT_TRANSFER,
        tts: str | Mapping[str, Any] | None = None,
        ttl: int | str | None = None,
        safety: str | Mapping[str, Any] | None = None,
        max_cost: float | str | None = None,
        hook_params: Mapping[str, float | int] | None = None,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        arguments = _arguments(locals())
        # Set before the shared __init__, which checks the whole request.
        self.edit_region = arguments.pop("edit_region")
        self.emotion_prompt = arguments.pop("emotion_prompt")
        super().__init__(**arguments, **kwargs)

    @classmethod
    def _request_param_names(cls) -> tuple[str, ...]:
        return (*_REQUEST_PARAMS, "edit_region", "emotion_prompt")
