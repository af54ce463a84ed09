"""How a render's media travel: which inputs are uploaded or presigned, where the video goes.

Before a job is submitted, :func:`plan_media` decides, from the request and the operator's
``input_transfer`` / ``output_transfer`` / ``output_path``:

* which local or object-storage inputs must reach Runware, and for each whether Runware
  fetches it through a short-lived presigned URL (the bytes never pass through the worker)
  or the worker uploads it (``mediaStorage``);
* whether the finished video is PUT by Runware straight into the object store (a presigned
  ``uploadEndpoint``) or downloaded by the worker from ``videoURL``.

Everything is checked here, before the first request: a path the deployment does not allow,
a file that is missing, a store that cannot presign when ``presign`` was asked for. Only
:meth:`MediaPlan.prepare`, run when a job is really submitted (not on re-attaching), signs
URLs and uploads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.media import LocalMedia, find_local_media, output_target, replace_sources
from airflow_provider_sync.object_storage import (
    INPUT_TRANSFERS,
    INPUT_URL_SECONDS,
    OUTPUT_TRANSFERS,
    can_presign,
    check_transfer,
    presign,
)
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths, check_target
from airflow_provider_sync.url_checks import api_is_loopback, url_problem

if TYPE_CHECKING:
    from airflow_provider_sync.hooks.runware import RunwareHook

log = logging.getLogger(__name__)

#: Seconds a presigned ``uploadEndpoint`` stays valid beyond the operator's ``timeout``:
#: Runware PUTs when the render ends, which may be late in the wait.
OUTPUT_URL_MARGIN = 900


def check_transfers(input_transfer: Any, output_transfer: Any) -> tuple[str, str]:
    """Validated ``input_transfer`` and ``output_transfer`` (lower-cased).

    :raises SyncValidationError: naming the parameter and its allowed values.
    """
    return (
        check_transfer(input_transfer, "input_transfer", INPUT_TRANSFERS),
        check_transfer(output_transfer, "output_transfer", OUTPUT_TRANSFERS),
    )


def has_output_path(value: Any) -> bool:
    """Whether ``output_path`` asks for the video to be saved.

    A template rendering an unset param gives ``""`` or ``"None"``: no output wanted.
    """
    return bool(value) and str(value).strip() not in ("", "None")


@dataclass(frozen=True)
class OutputPlace:
    """Where the video may be saved, as checked before submitting.

    :param path: ``output_path`` as given (trimmed).
    :param location: the checked location (symlinks resolved for run-time values); a folder
        ends in ``/`` and the file is named after the job.
    :param from_template: the path is a run-time value (held to the allowed roots).
    :param overwrite: an existing file may be replaced.
    """

    path: str
    location: str
    from_template: bool
    overwrite: bool

    def target(self, roots: MediaRoots, output_format: str, task_uuid: str) -> str:
        """The file the job's video is saved to, checked again now that its name is known.

        :raises SyncValidationError: the file exists (without ``overwrite``), or the name or
            place is not allowed.
        """
        return check_output(self.path, roots, self.from_template, output_format, self.overwrite, task_uuid)


def check_output(
    path: str,
    roots: MediaRoots,
    from_template: bool,
    output_format: str,
    overwrite: bool,
    task_uuid: str | None,
) -> str:
    """Check where a video may be written: ``path`` itself, or the file named after
    ``task_uuid`` when ``path`` is a folder (``task_uuid=None``: the folder itself).

    :raises SyncValidationError: as :func:`~airflow_provider_sync.paths.check_target`.
    """
    if task_uuid is not None:
        path = output_target(path, task_uuid, output_format)
    return check_target(
        path,
        "output_path",
        roots,
        from_template=from_template,
        output_format=output_format,
        overwrite=overwrite,
    )


@dataclass
class MediaPlan:
    """What :func:`plan_media` decided for one request.

    :param uploads: inputs that are files (local or object storage), inspected and hashed.
    :param presigned: the sources among ``uploads`` that Runware fetches through a presigned
        URL; the others are uploaded by the worker.
    :param output: where the video is saved, or ``None`` when it is not.
    :param direct_output: Runware PUTs the video into ``output`` through a presigned
        ``uploadEndpoint``; the worker never downloads it.
    :param output_format: the request's output format (``MP4`` when Runware's default).
    :param input_transfer: the validated ``input_transfer``, for log lines.
    :param media_versions: the content identity of each file in ``uploads`` (for the job's
        fingerprint: new bytes make a new job, the same bytes rewritten do not).
    """

    uploads: list[LocalMedia]
    presigned: set[str]
    output: OutputPlace | None
    direct_output: bool
    output_format: str
    roots: MediaRoots
    input_transfer: str = "auto"
    media_versions: list[str] = field(default_factory=list)
    #: Where the plan's log lines go: the task's logger, so they show in the task log.
    logger: Any = log
    #: The ETag of the object Runware replaces (``overwrite=True``), if there was one.
    prior_etag: str | None = None
    #: Filled by :meth:`prepare`: each uploaded file's media UUID -> which input it is, so a
    #: job error naming the UUID can say which of the user's files it means.
    uploaded_media: dict[str, str] = field(default_factory=dict)

    def delivered_to(self, task_uuid: str) -> str | None:
        """The object Runware PUTs the video of job ``task_uuid`` to, when it does."""
        if not self.direct_output or self.output is None:
            return None
        return output_target(self.output.location, task_uuid, self.output_format)

    def prepare(self, task: dict[str, Any], hook: RunwareHook, timeout: float) -> dict[str, Any]:
        """Just before submitting: sign URLs, validate the final request, then upload the rest.

        Runs only when a job is really submitted (not on re-attaching). The signed URLs never
        enter the job's fingerprint (computed before, from the object's URL and ETag) nor a
        log line with their query string.

        :param task: the request with the ``taskUUID`` it is submitted under.
        :param timeout: the operator's wait, so a presigned ``uploadEndpoint`` outlives it.
        :raises SyncValidationError: a URL cannot be signed, or the final request is invalid
            (nothing has been sent yet).
        """
        from airflow_provider_sync.models import validate_payload

        if self.direct_output and self.output is not None:
            # Checked again with the job's own name: no overwrite, allowed roots, video name.
            target = self.output.target(self.roots, self.output_format, str(task["taskUUID"]))
            put_url = presign(target, "PUT", int(timeout) + OUTPUT_URL_MARGIN)
            if put_url is None:
                raise SyncValidationError(f"output_path: cannot presign {describe_source(target)!r}")
            problem = url_problem(put_url, api_on_loopback=api_is_loopback(hook.base_url))
            if problem is not None:
                raise SyncValidationError(
                    f"output_path: the presigned uploadEndpoint for {describe_source(target)!r} "
                    f"{problem}, so Runware could not deliver there; use output_transfer='download'"
                )
            task = {**task, "uploadEndpoint": put_url}
            self.logger.info(
                "Output: Runware PUTs the video straight to %s (presigned URL %s); the worker "
                "does not download it",
                describe_source(target),
                describe_source(put_url),
            )
        signed: dict[str, str] = {}
        for media in self.uploads:
            if media.source not in self.presigned or media.source in signed:
                continue
            url = presign(media.location or media.source, "GET", INPUT_URL_SECONDS)
            if url is None:
                raise SyncValidationError(f"{media.field}: cannot presign {describe_source(media.source)!r}")
            signed[media.source] = url
            self.logger.info(
                "Input %s %s: sent to Runware as a presigned URL (%s), not uploaded by the worker",
                media.field,
                describe_source(media.source),
                describe_source(url),
            )
        task = replace_sources(task, signed) if signed else task
        validate_payload(task)  # for the request's own model (sync-3 has its own shape)
        rest = [m for m in self.uploads if m.source not in signed]
        for media in rest:
            self.logger.info(
                "Input %s %s: uploaded through the worker (input_transfer=%s)",
                media.field,
                describe_source(media.source),
                self.input_transfer,
            )
        return upload_inputs(task, rest, hook, self.logger, self.uploaded_media)


def plan_media(
    request: dict[str, Any],
    *,
    roots: MediaRoots,
    origins: TemplatedPaths,
    input_transfer: str,
    output_transfer: str,
    output_path: Any,
    overwrite: bool,
    logger: Any = log,
    identify: bool = True,
) -> MediaPlan:
    """Decide how every input reaches Runware and where the video goes; check it all now.

    :param origins: which of ``video``, ``audio`` and ``output_path`` are run-time values.
    :param identify: read local files to compute their content identity (``False`` when the
        run fails anyway: only the problems of the paths are wanted).
    :raises SyncValidationError: listing every problem at once: paths that are refused,
        missing files, transfer modes that cannot be honoured (``presign`` for a store that
        cannot presign here).
    """
    problems: list[str] = []
    output_format = str(request.get("outputFormat") or "MP4")
    output: OutputPlace | None = None
    direct = False
    prior_etag: str | None = None
    if has_output_path(output_path):
        path = str(output_path).strip()
        # Where, and under which name: checked now. Whether the object exists already is
        # checked now only for a video the worker downloads; one Runware PUTs is checked just
        # before submitting (prepare), so that a retry re-attaching to a job that delivered
        # already finds its object instead of refusing it as "already exists".
        try:
            location = check_output(path, roots, origins.output_path, output_format, True, None)
            direct = _direct_output(location, request, output_transfer, problems)
            if not direct and not overwrite:
                check_output(path, roots, origins.output_path, output_format, False, None)
        except SyncValidationError as exc:
            problems += exc.problems
        else:
            output = OutputPlace(path, location, origins.output_path, overwrite)
            if direct and overwrite and not location.endswith("/") and identify:
                prior_etag = _etag(location)
    uploads: list[LocalMedia] = []
    try:
        uploads = find_local_media(request, roots, origins, identify=identify)  # also hashes them
    except SyncValidationError as exc:
        problems += exc.problems
    presigned = _presigned_inputs(uploads, input_transfer, problems)
    if problems:
        raise SyncValidationError(problems)
    return MediaPlan(
        uploads=uploads,
        presigned=presigned,
        output=output,
        direct_output=direct,
        output_format=output_format,
        roots=roots,
        input_transfer=input_transfer,
        media_versions=[m.version for m in uploads],
        logger=logger,
        prior_etag=prior_etag,
    )


def _etag(location: str) -> str | None:
    """The ETag of the object at ``location`` now, or ``None`` when there is none.

    An object that ``overwrite=True`` lets the job replace must not be taken for the job's
    delivery: it is told apart by its ETag.
    """
    import httpx

    url = presign(location, "HEAD", 300)
    if url is None:
        return None
    try:
        resp = httpx.head(url, timeout=10.0)
    except httpx.HTTPError:
        return None
    return resp.headers.get("etag") if resp.status_code == 200 else None


def _presigned_inputs(uploads: list[LocalMedia], mode: str, problems: list[str]) -> set[str]:
    """The sources of ``uploads`` that go to Runware as presigned URLs (the rest are uploaded).

    Inputs that ``presign`` cannot honour are added to ``problems``.
    """
    chosen: set[str] = set()
    for media in uploads:
        able = can_presign(media.location or media.source)
        if mode == "presign" and not able:
            problems.append(
                f"{media.field}: input_transfer='presign', but {describe_source(media.source)!r} is "
                "not in an object store that can presign here (s3:// with the Amazon provider); "
                "use input_transfer='auto' or 'upload'"
            )
        if able and mode != "upload":
            chosen.add(media.source)
    return chosen


def _direct_output(location: str, request: dict[str, Any], mode: str, problems: list[str]) -> bool:
    """Whether Runware PUTs the video straight to ``location`` through a presigned URL.

    An output that ``presign`` cannot honour is added to ``problems``.
    """
    if request.get("uploadEndpoint"):
        return False  # the user chose where Runware delivers; we download from videoURL
    able = can_presign(location.rstrip("/") + "/x.mp4" if location.endswith("/") else location)
    if mode == "presign" and not able:
        problems.append(
            f"output_path: output_transfer='presign', but {describe_source(location)!r} is not in "
            "an object store that can presign here (s3:// with the Amazon provider); use "
            "output_transfer='auto' or 'download'"
        )
    return able and mode != "download"


def upload_inputs(
    task: dict[str, Any],
    uploads: list[LocalMedia],
    hook: RunwareHook,
    logger: Any = log,
    uploaded_media: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Upload files through the worker; return the task with their media UUIDs in place.

    A file named by several inputs is uploaded once.

    :param uploaded_media: filled with each media UUID -> the input it came from
        (``audio[0].source (id 'fr') /data/fr.wav``).
    """
    uploaded: dict[str, str] = {}
    for media in uploads:
        if media.source in uploaded:
            continue
        shown = describe_source(media.source)
        logger.info("Uploading %s %s (%.1f MiB) to Runware", media.field, shown, media.size / 2**20)
        ack = hook.upload_media(media)
        uploaded[media.source] = str(ack["mediaUUID"])
        if uploaded_media is not None:
            uploaded_media[str(ack["mediaUUID"])] = f"{media.field} {shown}"
        logger.info("Uploaded %s as media %s", shown, ack["mediaUUID"])
    return replace_sources(task, uploaded) if uploaded else task


def name_uploaded_media(message: str, uploaded_media: dict[str, str] | None) -> str:
    """``message`` (a job error), followed by which input each media UUID it names is.

    Runware (and the emulator) speak of an uploaded file by its media UUID, or by their own
    copy of it; the user knows it as a path.
    """
    notes = [f"media {uuid} is {what}" for uuid, what in (uploaded_media or {}).items() if uuid in message]
    return f"{message} ({'; '.join(notes)}, uploaded by this task)" if notes else message


__all__ = [
    "MediaPlan",
    "OutputPlace",
    "check_output",
    "check_transfers",
    "has_output_path",
    "name_uploaded_media",
    "plan_media",
    "upload_inputs",
]
