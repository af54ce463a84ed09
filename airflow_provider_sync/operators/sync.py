"""Operators that run Sync's models through Runware: lip-sync and performance re-animation."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import Asset, BaseOperator

from airflow_provider_sync._compat import conf
from airflow_provider_sync.exceptions import (
    RunwareError,
    RunwareJobError,
    RunwareTimeoutError,
    SyncValidationError,
)
from airflow_provider_sync.job_watch import (
    PollSchedule,
    estimate_render_time,
    first_poll_delay,
    format_duration,
)
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY, SyncOutputVideoLink
from airflow_provider_sync.media import describe_source
from airflow_provider_sync.models import (
    build_video_inference,
    coerce_structure,
    parse_flag,
    parse_seconds,
    resolve_model,
)
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths
from airflow_provider_sync.payloads import JobEvent, SyncResult, error_class

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_sync.hooks.runware import RunwareHook

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
    "output_format",
    "output_quality",
    "include_cost",
    "webhook_url",
    "upload_endpoint",
)


def _is_unresolved(value: Any) -> bool:
    """True for values only known at run time: Jinja strings, XComArgs, mapped arguments."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_is_unresolved(k) or _is_unresolved(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_is_unresolved(v) for v in value)
    return not isinstance(value, (int, float, bool, type(None), timedelta))


def _seconds(value: Any, name: str) -> float:
    # Finite, > 0 and bounded whatever the type: timedelta(0), "nan" or -5 would fail later.
    return parse_seconds(value, name)


#: Parameters that widen what a task may do on the worker's disk: never taken from expand().
_TRUSTED_ONLY = ("allowed_media_roots", "overwrite")


def _mapped_partial_kwargs(op: BaseOperator) -> Mapping[str, Any] | None:
    """For a task unmapped from ``partial(...).expand(...)``: the literal ``partial`` arguments.

    ``None`` for an ordinary task. The expanded arguments are run-time values (often built
    from ``dag_run.conf`` upstream); only ``partial`` ones are written in the DAG file.
    """
    if not getattr(op, "_BaseOperator__from_mapped", False):
        return None
    dag = getattr(op, "_dag", None)
    mapped = dag.task_dict.get(op.task_id) if dag is not None else None
    partial = getattr(mapped, "partial_kwargs", None)
    return partial if isinstance(partial, Mapping) else {}


def _path_origins(op: SyncBaseOperator, partial: Mapping[str, Any] | None) -> TemplatedPaths:
    """Which of ``video``, ``audio`` and ``output_path`` hold run-time values (checked at init)."""

    def expanded(name: str) -> bool:
        # expand() may not repeat a partial() argument, so an equal value came from partial().
        return partial is not None and (name not in partial or partial[name] != getattr(op, name))

    audio: bool | tuple[bool, ...]
    if expanded("audio"):
        audio = True
    elif isinstance(op.audio, (list, tuple)):
        # Per item, so a literal file next to a templated one stays trusted.
        audio = tuple(
            _is_unresolved(item.get("source") if isinstance(item, Mapping) else item) for item in op.audio
        )
    else:
        audio = _is_unresolved(op.audio)
    return TemplatedPaths(
        video=expanded("video") or _is_unresolved(op.video),
        audio=audio,
        output_path=expanded("output_path") or _is_unresolved(op.output_path),
    )


def default_deferrable() -> bool:
    """Whether Sync operators defer when a DAG does not say: ``[sync] default_deferrable``.

    True unless the deployment turned it off. Deliberately not Airflow's
    ``[operators] default_deferrable`` (False in a stock installation): a render takes
    minutes, and the point of this provider is that no worker slot waits for it.
    """
    return conf.getboolean("sync", "default_deferrable", fallback=True)


class SyncBaseOperator(BaseOperator):
    """Shared machinery of :class:`SyncLipsyncOperator` and :class:`SyncReactOperator`.

    Submits one ``videoInference`` job, then waits for it: deferred to the triggerer by
    default, or polling in the worker with ``deferrable=False``. Returns (and pushes to XCom)
    a JSON-able dict: ``task_uuid``, ``model``, ``status``, ``video_url``, ``video_uuid``,
    ``cost``, ``seed``, ``output_format``, ``elapsed``.
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
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "audio": "json",
        "speech": "json",
        "segments": "json",
    }
    ui_color = "#f2e6ff"
    operator_extra_links = (SyncOutputVideoLink(),)

    def __init__(
        self,
        *,
        video: Any,
        audio: Any = None,
        speech: Any = None,
        model: str,
        sync_mode: str | None = None,
        temperature: float | str | None = None,
        active_speaker_detection: bool | str | None = None,
        occlusion_detection_enabled: bool | str | None = None,
        segments: Any = None,
        output_format: str | None = None,
        output_quality: int | str | None = None,
        include_cost: bool = True,
        output_path: str | None = None,
        output_asset: Asset | str | None = None,
        runware_conn_id: str = "runware_default",
        deferrable: bool | None = None,
        poll_interval: float | str = 10.0,
        timeout: float | timedelta | str = timedelta(hours=1),
        expected_render_time: float | timedelta | str | None = None,
        idempotency_key: str | None = None,
        force_new_job: bool | str = False,
        overwrite: bool = False,
        allowed_media_roots: Sequence[str] | None = None,
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        input_transfer: str = "auto",
        output_transfer: str = "auto",
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
        # Set once the output's place is known: where Runware PUT the video (presigned), and
        # what lineage reports as the output.
        self._delivered_to: str | None = None
        self._lineage_output: str | None = None
        partial = _mapped_partial_kwargs(self)
        for name in _TRUSTED_ONLY:
            value = getattr(self, name)
            if partial is not None and value not in (None, False) and partial.get(name) != value:
                raise SyncValidationError(
                    f"{name}: give it in partial(), not in expand(): a run-time value may not widen "
                    "what the task may read or write"
                )
        if not isinstance(overwrite, bool):
            raise SyncValidationError(f"overwrite: {overwrite!r} is not True or False (it is not templated)")
        # Decided now, before templates are rendered: afterwards every value looks literal.
        self._path_origins = _path_origins(self, partial)
        self._check_parse_time()

    # ------------------------------------------------------------------ request

    def _request_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _REQUEST_PARAMS}

    def _check_parse_time(self) -> None:
        """Fail at DAG parse time on literal values; templated ones wait for ``execute``."""
        params = self._request_params()
        unresolved = {k for k, v in params.items() if _is_unresolved(v)}
        for name in ("poll_interval", "timeout", "expected_render_time"):
            value = getattr(self, name)
            if value not in (None, "") and not _is_unresolved(value):
                _seconds(value, name)
        if not _is_unresolved(self.force_new_job):
            parse_flag(self.force_new_job, "force_new_job")
        if not _is_unresolved(self.idempotency_key):
            from airflow_provider_sync.idempotency import idempotency_fingerprint

            idempotency_fingerprint(self.idempotency_key)
        MediaRoots.parse(self.allowed_media_roots or (), "allowed_media_roots")
        self._check_transfers(parse_time=True)
        if not unresolved:
            self._build(params)
            return
        if "model" not in unresolved:
            resolve_model(params["model"], self.allowed_models)
        self._build(_stand_ins(params, unresolved, self.allowed_models[0]))

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
        """A hook on :attr:`runware_conn_id`, made on first use (after templates rendered)."""
        from airflow_provider_sync.hooks.runware import RunwareHook

        return RunwareHook(self.runware_conn_id)

    def _close_hook(self) -> None:
        hook: RunwareHook | None = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()  # the next use makes a fresh hook (and fresh clients)

    def _media_roots(self) -> MediaRoots:
        """Where run-time paths may point: ``[sync] allowed_media_roots`` plus ours."""
        return MediaRoots.configured(self.allowed_media_roots or ())

    def _output_location(self, roots: MediaRoots, output_format: str, task_uuid: str | None = None) -> str:
        """Where the video may be saved (checked); the folder itself while ``task_uuid`` is unknown."""
        from airflow_provider_sync.media import output_target
        from airflow_provider_sync.paths import check_target

        path = str(self.output_path).strip()
        if task_uuid is not None:
            path = output_target(path, task_uuid, output_format)
        return check_target(
            path,
            "output_path",
            roots,
            from_template=self._path_origins.output_path,
            output_format=output_format,
            overwrite=self.overwrite,
        )

    def execute(self, context: Context) -> SyncResult:
        """Validate, submit (or re-attach to) the job, then defer or poll until it ends."""
        try:
            return self._submit_and_wait(context)
        finally:
            self._close_hook()  # also when deferring: TaskDeferred passes through here

    def _submit_and_wait(self, context: Context) -> SyncResult:
        from airflow_provider_sync.idempotency import (
            JobKey,
            idempotency_fingerprint,
            request_fingerprint,
            submit_or_attach,
        )
        from airflow_provider_sync.media import find_local_media

        # Airflow evaluates extra links whenever the task stops, deferral included: an empty
        # value until the video exists keeps that lookup from logging "XCom not found".
        context["ti"].xcom_push(key=VIDEO_URL_XCOM_KEY, value="")

        # Everything is checked before the first request, uploads included: values from
        # templates fail here as literal ones failed when the DAG was parsed.
        request = self.build_request()
        poll_interval = _seconds(self.poll_interval, "poll_interval")
        timeout = _seconds(self.timeout, "timeout")
        expected = (
            _seconds(self.expected_render_time, "expected_render_time")
            if self.expected_render_time not in (None, "")
            else estimate_render_time(request)
        )
        force_new_job = parse_flag(self.force_new_job, "force_new_job")
        own_key = idempotency_fingerprint(self.idempotency_key)
        roots = self._media_roots()
        input_transfer, output_transfer = self._check_transfers()
        output_format = str(request.get("outputFormat") or "MP4")
        location = None
        if _has_output_path(self.output_path):
            location = self._output_location(roots, output_format)
        uploads = find_local_media(request, roots, self._path_origins)  # also hashes the files
        presigned = self._plan_inputs(uploads, input_transfer)
        direct_output = location is not None and self._plan_output(location, request, output_transfer)
        ti = context["ti"]
        key = JobKey(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            fingerprint=own_key or request_fingerprint(request, [m.version for m in uploads]),
            # A new try number means new UUIDs; a lost answer retried within this try still
            # finds its job, since the try number does not change within it.
            attempt=int(getattr(ti, "try_number", 0) or 0) if force_new_job else None,
        )
        self.log.info(
            "Request for %s: video=%s, %s",
            request["model"],
            describe_source(request["inputs"]["video"]),
            _describe_inputs(request),
        )
        attachment = submit_or_attach(
            self.hook,
            request,
            key,
            self.log,
            prepare=(
                lambda task: self._prepare(
                    task, uploads, presigned, roots, output_format if direct_output else None, timeout
                )
            ),
        )
        task_uuid = self._task_uuid = attachment.task_uuid
        if direct_output and location is not None:
            from airflow_provider_sync.media import output_target

            # The job (new or re-attached) PUTs its video here: the name follows from its UUID.
            self._delivered_to = output_target(location, task_uuid, output_format)
        ti.xcom_push(key="task_uuid", value=task_uuid)
        self.log.info(
            "Runware task UUID: %s (%s)",
            task_uuid,
            "submitted" if attachment.submitted else "re-attached to an existing job",
        )
        started = time.time()
        deadline = started + timeout
        if attachment.finished and attachment.state is not None:
            from airflow_provider_sync.job_watch import JobWatch

            event = JobWatch(task_uuid, deadline=deadline, started=started).on_state(attachment.state)
            assert event is not None
            return self._finish(event, request["model"], context)
        first_delay, ramp = first_poll_delay(poll_interval, expected)
        if attachment.submitted is False:
            first_delay, ramp = min(first_delay, poll_interval), False  # it has been running a while
        schedule = PollSchedule(poll_interval, first_delay, started, ramp=ramp)
        if self.deferrable:
            from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

            self.defer(
                trigger=RunwareTaskTrigger(
                    task_uuid=task_uuid,
                    runware_conn_id=self.runware_conn_id,
                    poll_interval=poll_interval,
                    deadline=deadline,
                    started=started,
                    first_poll_delay=first_delay,
                    ramp=ramp,
                ),
                method_name="execute_complete",
                kwargs={"model": request["model"], "delivered_to": self._delivered_to},
            )
        return self._finish(self._poll_in_worker(task_uuid, schedule, deadline), request["model"], context)

    def _upload(self, task: dict[str, Any], uploads: list[Any]) -> dict[str, Any]:
        """Upload local media inputs; return the task with their media UUIDs in place."""
        from airflow_provider_sync.media import replace_sources

        if not uploads:
            return task
        uploaded: dict[str, str] = {}
        for media in uploads:
            if media.source in uploaded:
                continue
            mib = media.size / 2**20
            shown = describe_source(media.source)
            self.log.info("Uploading %s %s (%.1f MiB) to Runware", media.field, shown, mib)
            ack = self.hook.upload_media(media)
            uploaded[media.source] = str(ack["mediaUUID"])
            self.log.info("Uploaded %s as media %s", shown, ack["mediaUUID"])
        return replace_sources(task, uploaded)

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
                event = watch.on_state(hook.get_task_state(task_uuid))
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

        :param delivered_to: the object Runware was asked to PUT the video to, if any.
        """
        self._delivered_to = delivered_to
        try:
            return self._finish(event, model or resolve_model(str(self.model)).air_id, context)
        finally:
            self._close_hook()

    def _finish(self, event: JobEvent, model: str, context: Context) -> SyncResult:
        task_uuid = str(event["task_uuid"])
        if event["status"] == "success":
            raw = dict(event.get("result") or {})
            if raw.get("videoURL") is not None:
                self._check_video_url(str(raw["videoURL"]), task_uuid)
            result: SyncResult = {
                "task_uuid": task_uuid,
                "model": model,
                "status": "success",
                "video_url": raw.get("videoURL"),
                "video_uuid": raw.get("videoUUID"),
                "cost": raw.get("cost"),
                "seed": raw.get("seed"),
                "output_format": self.output_format.upper() if isinstance(self.output_format, str) else "MP4",
                "elapsed": event.get("elapsed"),
                # Everything Runware said, known fields or not (tolerant on input).
                "raw": raw,
            }
            cost = f", cost USD {result['cost']}" if result["cost"] is not None else ""
            self.log.info(
                "Runware task %s succeeded after %s%s: %s",
                task_uuid,
                format_duration(float(event.get("elapsed") or 0)),
                cost,
                describe_source(str(result["video_url"])),
            )
            context["ti"].xcom_push(key=VIDEO_URL_XCOM_KEY, value=result["video_url"])
            if _has_output_path(self.output_path):
                if self._delivered_to:
                    result["output_path"], result["output_bytes"] = self._delivered(result)
                else:
                    result["output_path"], result["output_bytes"] = self._save_output(result)
            self._lineage_output = result.get("output_path") or result.get("video_url")
            if self.output_asset is not None:
                keys = ("task_uuid", "model", "video_url", "output_path", "cost")
                extra: dict[str, Any] = {k: v for k, v in result.items() if k in keys}
                context["outlet_events"][self.output_asset].extra = extra
            return result
        if event["status"] == "timeout":
            raise RunwareTimeoutError(event["message"], task_uuid=task_uuid, code="timeout")
        err = event["error"]
        cls = error_class(err.get("error_class"))
        raise cls(
            str(err.get("message") or "job failed"),
            code=err.get("code"),
            parameter=err.get("parameter"),
            task_uuid=err.get("task_uuid") or task_uuid,
            task_type=err.get("task_type"),
            status_code=err.get("status_code"),
        )

    def _check_video_url(self, url: str, task_uuid: str) -> None:
        """Refuse a result URL that is not https (http only from an emulator on loopback).

        The URL becomes an extra link in the UI and is downloaded by the worker; an answer
        that points elsewhere (``javascript:``, ``file:``, plain http on the internet) is
        treated as a failed job, never shown or fetched.
        """
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return
        base = urlsplit(self.hook.base_url)
        if parts.scheme == "http" and _is_loopback(parts.hostname) and _is_loopback(base.hostname):
            return
        raise RunwareJobError(
            f"Runware reported success with a videoURL that is not an https URL "
            f"({describe_source(url)}); not using it",
            code="invalidVideoURL",
            task_uuid=task_uuid,
        )

    def _save_output(self, result: SyncResult) -> tuple[str, int]:
        from airflow_provider_sync.media import save_output

        if not result.get("video_url"):
            raise RunwareJobError(
                "Runware reported success without a videoURL", task_uuid=result["task_uuid"]
            )
        # Checked again: the file may have appeared while the job rendered.
        target = self._output_location(self._media_roots(), result["output_format"], result["task_uuid"])
        started = time.monotonic()
        url = str(result["video_url"])
        size = save_output(lambda path: self.hook.download(url, path), target, overwrite=self.overwrite)
        self.log.info(
            "Saved the video to %s (%.1f MiB in %s)",
            describe_source(target),
            size / 2**20,
            format_duration(time.monotonic() - started),
        )
        return target, size

    # ------------------------------------------------------------------ object storage

    def _check_transfers(self, *, parse_time: bool = False) -> tuple[str, str]:
        """Validated ``input_transfer`` and ``output_transfer`` (literal ones at parse time)."""
        from airflow_provider_sync.object_storage import (
            INPUT_TRANSFERS,
            OUTPUT_TRANSFERS,
            check_transfer,
        )

        values = []
        for name, allowed in (("input_transfer", INPUT_TRANSFERS), ("output_transfer", OUTPUT_TRANSFERS)):
            value = getattr(self, name)
            if parse_time and _is_unresolved(value):
                values.append("auto")
                continue
            values.append(check_transfer(value, name, allowed))
        return values[0], values[1]

    def _plan_inputs(self, uploads: list[Any], mode: str) -> set[str]:
        """The sources of ``uploads`` that go to Runware as presigned URLs (the rest are uploaded).

        :raises SyncValidationError: with ``input_transfer="presign"`` for an input whose store
            cannot presign here.
        """
        from airflow_provider_sync.object_storage import can_presign

        chosen: set[str] = set()
        for media in uploads:
            where = media.location or media.source
            able = can_presign(where)
            if mode == "presign" and not able:
                raise SyncValidationError(
                    f"{media.field}: input_transfer='presign', but {describe_source(media.source)!r} is "
                    "not in an object store that can presign here (s3:// with the Amazon provider); "
                    "use input_transfer='auto' or 'upload'"
                )
            if able and mode != "upload":
                chosen.add(media.source)
        return chosen

    def _plan_output(self, location: str, request: dict[str, Any], mode: str) -> bool:
        """Whether Runware PUTs the video straight to ``location`` through a presigned URL."""
        from airflow_provider_sync.object_storage import can_presign

        if request.get("uploadEndpoint"):
            return False  # the user chose where Runware delivers; we download from videoURL
        able = can_presign(location.rstrip("/") + "/x.mp4" if location.endswith("/") else location)
        if mode == "presign" and not able:
            raise SyncValidationError(
                f"output_path: output_transfer='presign', but {describe_source(location)!r} is not in "
                "an object store that can presign here (s3:// with the Amazon provider); use "
                "output_transfer='auto' or 'download'"
            )
        return able and mode != "download"

    def _prepare(
        self,
        task: dict[str, Any],
        uploads: list[Any],
        presigned: set[str],
        roots: MediaRoots,
        direct_format: str | None,
        timeout: float,
    ) -> dict[str, Any]:
        """Just before submitting: sign URLs, validate the final request, then upload the rest.

        Runs only when a job is really submitted (not on re-attaching). The signed URLs never
        enter the job's fingerprint (computed before, from the object's URL and ETag) nor a log
        line with their query string.
        """
        from airflow_provider_sync.media import replace_sources
        from airflow_provider_sync.models import VideoInferenceTask, format_validation_error
        from airflow_provider_sync.object_storage import INPUT_URL_SECONDS, presign

        if direct_format is not None:
            # Checked again with the job's own name: no overwrite, allowed roots, video name.
            target = self._output_location(roots, direct_format, str(task["taskUUID"]))
            # Valid for the whole wait plus a margin: Runware PUTs when the render ends.
            put_url = presign(target, "PUT", int(timeout) + 900)
            if put_url is None:
                raise SyncValidationError(f"output_path: cannot presign {describe_source(target)!r}")
            task = {**task, "uploadEndpoint": put_url}
            self.log.info(
                "Output: Runware PUTs the video straight to %s (presigned URL %s); the worker "
                "does not download it",
                describe_source(target),
                describe_source(put_url),
            )
        signed: dict[str, str] = {}
        for media in uploads:
            if media.source not in presigned or media.source in signed:
                continue
            url = presign(media.location or media.source, "GET", INPUT_URL_SECONDS)
            if url is None:
                raise SyncValidationError(f"{media.field}: cannot presign {describe_source(media.source)!r}")
            signed[media.source] = url
            self.log.info(
                "Input %s %s: sent to Runware as a presigned URL (%s), not uploaded by the worker",
                media.field,
                describe_source(media.source),
                describe_source(url),
            )
        task = replace_sources(task, signed) if signed else task
        # Nothing has been sent yet: the request as it will go, signed URLs included, must pass.
        from pydantic import ValidationError

        try:
            VideoInferenceTask.model_validate(task)
        except ValidationError as exc:
            raise SyncValidationError(format_validation_error(exc)) from None
        rest = [m for m in uploads if m.source not in signed]
        for media in rest:
            self.log.info(
                "Input %s %s: uploaded through the worker (input_transfer=%s)",
                media.field,
                describe_source(media.source),
                self.input_transfer,
            )
        return self._upload(task, rest)

    def _delivered(self, result: SyncResult) -> tuple[str, int]:
        """The object Runware PUT the video to, and its size (read from the store, not downloaded).

        Falls back to downloading from ``videoURL`` if the object is missing (a delivery that
        did not happen must not lose the render).
        """
        from airflow.sdk import ObjectStoragePath

        target = str(self._delivered_to)
        path = ObjectStoragePath(target)
        try:
            size = int(path.stat().st_size)
        except FileNotFoundError:
            self.log.warning(
                "Runware did not deliver to %s; downloading from videoURL instead", describe_source(target)
            )
            return self._save_output(result)
        self.log.info("Runware delivered the video to %s (%.1f MiB)", describe_source(target), size / 2**20)
        return target, size

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


def _has_output_path(value: Any) -> bool:
    # A template rendering an unset param gives "" or "None": no output wanted.
    return bool(value) and str(value).strip() not in ("", "None")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe_inputs(request: dict[str, Any]) -> str:
    inputs = request["inputs"]
    parts = [f"audio {a['id']}={describe_source(a['source'])}" for a in inputs.get("audio", [])]
    parts += [
        f"speech {s['id']} ({len(s['text'])} chars, voice {s['provider']['voiceId']})"
        for s in inputs.get("speech", [])
    ]
    settings = request.get("providerSettings", {}).get("sync", {})
    for key in ("outputFormat", "outputQuality"):
        if key in request:
            parts.append(f"{key}={request[key]}")
    plain = [f"{k}={v}" for k, v in settings.items() if k != "segments"]
    if plain:
        parts.append("settings " + ", ".join(plain))
    if "segments" in settings:
        parts.append(f"{len(settings['segments'])} segments")
    return "; ".join(parts)


def _stand_ins(params: dict[str, Any], unresolved: set[str], default_model: str) -> dict[str, Any]:
    """Replace run-time values with harmless stand-ins, so the literal ones can be checked now."""
    out = {k: (None if k in unresolved else v) for k, v in params.items()}
    if out["model"] is None:
        out["model"] = default_model
    if "video" in unresolved:
        out["video"] = "pending"
    segments = coerce_structure(out.get("segments"), "segments")
    refs = [s.get("ref") for s in segments if isinstance(s, Mapping)] if isinstance(segments, list) else []
    known: list[Any] = []
    for name in ("audio", "speech"):
        if name not in unresolved:
            value = coerce_structure(params.get(name), name)
            if isinstance(value, list):
                known += [i.get("id") for i in value if isinstance(i, Mapping)]
    missing = [r for r in dict.fromkeys(refs) if isinstance(r, str) and r not in known]
    if "audio" in unresolved or "speech" in unresolved:
        stand_in = [{"id": r, "source": "pending"} for r in missing] or (
            [{"id": "pending", "source": "pending"}] if not known else None
        )
        if "audio" in unresolved:
            out["audio"] = stand_in
        elif stand_in:
            out["audio"] = (coerce_structure(out.get("audio"), "audio") or []) + stand_in
    return out


class SyncLipsyncOperator(SyncBaseOperator):
    """Lip-sync a video to new audio or text-to-speech with Sync's ``lipsync-2`` or ``lipsync-2-pro``.

    :param video: the video to edit: a Runware media UUID, an http(s) URL, or a file to
        upload first (local path, ``file://`` or object-storage URL such as ``s3://...``).
    :param audio: the new audio: a list of ``{"id", "source"}`` (source as for ``video``),
        or a single source string (given the id ``audio-1``).
    :param speech: text to speak instead of (or besides) audio files: a list of
        ``{"id", "provider": {"name", "voiceId"}, "text"}``.
    :param model: ``lipsync-2`` (default) or ``lipsync-2-pro``, or their AIR ids.
    :param sync_mode: what happens when audio and video lengths differ: ``bounce``, ``loop``,
        ``cut_off``, ``silence`` or ``remap``.
    :param temperature: expressiveness, 0 to 1.
    :param active_speaker_detection: lip-sync only the detected speaker.
    :param occlusion_detection_enabled: handle hands or objects in front of the mouth.
    :param segments: map audio inputs to video time ranges: a list of ``{"startTime",
        "endTime", "ref", "audioStartTime"?, "audioEndTime"?}`` (snake_case keys accepted).
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
    :param deferrable: wait in the triggerer, holding no worker slot (default: ``True``, or the
        deployment's ``[sync] default_deferrable``); ``False`` polls from the worker, for
        installations without a triggerer.
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
    """

    allowed_models = ("sync:lipsync-2@1", "sync:lipsync-2-pro@1")

    def __init__(self, *, model: str = "lipsync-2", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)


class SyncReactOperator(SyncBaseOperator):
    """Re-animate a performance (emotion, expressions, head motion) with Sync's ``react-1``.

    Takes every parameter of :class:`SyncLipsyncOperator` (``segments`` is refused: Runware
    lists it as "coming soon" for react-1) plus:

    :param edit_region: what may change: ``lips``, ``face`` (Runware's default) or ``head``.
    :param emotion_prompt: the emotion to act: ``happy``, ``sad``, ``angry``, ``disgusted``,
        ``surprised`` or ``neutral``.
    """

    allowed_models = ("sync:react-1@1",)
    template_fields: Sequence[str] = (*SyncBaseOperator.template_fields, "edit_region", "emotion_prompt")

    def __init__(
        self,
        *,
        model: str = "react-1",
        edit_region: str | None = None,
        emotion_prompt: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.edit_region = edit_region
        self.emotion_prompt = emotion_prompt
        super().__init__(model=model, **kwargs)

    def _request_params(self) -> dict[str, Any]:
        return {
            **super()._request_params(),
            "edit_region": self.edit_region,
            "emotion_prompt": self.emotion_prompt,
        }
