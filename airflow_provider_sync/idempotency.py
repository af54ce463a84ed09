"""Deterministic job identity: never pay twice for one task instance.

A Runware job is named by its ``taskUUID``, which we choose. We derive it from the task
instance (dag id, run id, task id, map index), a fingerprint of the request, and a
*generation* number. Before submitting, the operator asks Runware about generation 0, 1, ...:

* unknown, or an answer we cannot read -> submit under this UUID (Runware's
  ``conflictTaskUUID`` answer means an earlier attempt did submit it after all: re-attach);
* processing or success -> re-attach to that job, submit nothing;
* ended in error -> try the next generation; except a job that was cancelled
  (``taskCancelled``) or rendered but not delivered (``uploadFailed``): those are re-attached
  to and reported, never replaced by a new paid render on their own.

A retry, a worker killed right after submitting, a lost HTTP answer or a cleared task thus
finds the job already paid for. Changing the request (another audio file, another model)
changes the fingerprint, so a fixed-up re-run renders afresh. See ``docs/idempotency.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from airflow_provider_sync._compat import AirflowFailException
from airflow_provider_sync.exceptions import (
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareUploadFailedError,
)
from airflow_provider_sync.protocol import TaskState

if TYPE_CHECKING:
    from airflow_provider_sync.hooks.runware import RunwareHook

#: Upper bound on failed generations probed; past it something is wrong with the request.
MAX_GENERATIONS = 20

log = logging.getLogger(__name__)


#: Query parameters that carry a presigned URL's signature, expiry or signing identity rather
#: than which object it names: AWS SigV4/SigV2, Google Cloud Storage V4/V2, CloudFront.
_SIGNATURE_PREFIXES = ("x-amz-", "x-goog-")
_SIGNATURE_NAMES = frozenset(
    {"signature", "expires", "awsaccesskeyid", "googleaccessid", "policy", "key-pair-id"}
)
#: Azure shared access signature fields (the signed permissions, times, version, resource,
#: protocol, IP range, key and delegation fields). Dropped only from URLs that carry ``sig``,
#: since names this short may mean something else to another server.
_AZURE_SAS_NAMES = frozenset(
    {
        "sig", "se", "st", "sp", "sv", "sr", "spr", "sip", "si", "ss", "srt", "ses", "sdd",
        "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid", "sduoid",
    }
)  # fmt: skip
_SIGNED_MARKERS = frozenset({"x-amz-signature", "x-goog-signature", "signature", "sig"})


def stable_url(url: str) -> str:
    """``url`` without the query parameters that change each time it is presigned.

    A presigned URL for the same object differs on every signing (signature, date, expiry,
    session token), yet names the same audio. Only URLs that carry a signature are touched;
    other query parameters (``versionId``, ``generation``, a CDN's own) are kept, as are all
    parameters of unsigned URLs.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    names = {k.lower() for k, _ in pairs}
    if not names & _SIGNED_MARKERS:
        return url

    def volatile(name: str) -> bool:
        lowered = name.lower()
        return (
            lowered.startswith(_SIGNATURE_PREFIXES)
            or lowered in _SIGNATURE_NAMES
            or ("sig" in names and name in _AZURE_SAS_NAMES)
        )

    kept = sorted((k, v) for k, v in pairs if not volatile(k))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


def _stable(value: Any) -> Any:
    if isinstance(value, str):
        return stable_url(value) if value[:8].lower().startswith(("http://", "https://")) else value
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


#: Task fields that say how the result is delivered, not what is rendered: they never change
#: a job's identity. ``webhookURL`` may carry a token that changes on every try (Runware's
#: webhook docs suggest authenticating by the URL's query), and ``uploadEndpoint`` is a
#: presigned URL signed afresh each time; either would otherwise start a second paid render.
DELIVERY_FIELDS = frozenset({"taskUUID", "webhookURL", "uploadEndpoint"})


def request_fingerprint(task: dict[str, Any], media_versions: Sequence[str] = ()) -> str:
    """A short, stable digest of what a task asks for, ignoring its ``taskUUID`` and how the
    result is delivered (:data:`DELIVERY_FIELDS`).

    URL inputs count without their presigning parameters (:func:`stable_url`), so a retry that
    renders a freshly signed URL for the same object finds the same job. ``media_versions``
    identify the content of local files to upload (their path alone is in ``task``): a file
    rewritten with identical bytes keeps the fingerprint, and one with new content changes it.
    """
    body: dict[str, Any] = {k: _stable(v) for k, v in task.items() if k not in DELIVERY_FIELDS}
    if media_versions:
        body["_media"] = list(media_versions)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


#: Longest accepted ``idempotency_key``.
MAX_IDEMPOTENCY_KEY_CHARS = 256


def idempotency_fingerprint(key: Any) -> str | None:
    """The fingerprint standing for a user's ``idempotency_key``, or ``None`` when it is unset.

    :raises SyncValidationError: for a key that is not a short, printable string.
    """
    from airflow_provider_sync.exceptions import SyncValidationError

    if key is None or (isinstance(key, str) and key.strip() in ("", "None")):
        return None
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise SyncValidationError(f"idempotency_key: a {type(key).__name__} is not a string")
    text = str(key).strip()
    if len(text) > MAX_IDEMPOTENCY_KEY_CHARS or not text.isprintable():
        raise SyncValidationError(
            f"idempotency_key: give at most {MAX_IDEMPOTENCY_KEY_CHARS} printable characters "
            f"(got {len(text)})"
        )
    return "key:" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class JobKey:
    """Everything that identifies one paid job of one task instance.

    :param fingerprint: :func:`request_fingerprint` of the request, or
        :func:`idempotency_fingerprint` of the user's ``idempotency_key`` when one is given.
    :param attempt: the try number when the user asked for a new job (``force_new_job``): each
        try then has UUIDs of its own, while a lost answer retried within the try still finds
        its job. ``None`` (the default) leaves tries out, so every try re-attaches.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    fingerprint: str
    attempt: int | None = None

    def task_uuid(self, generation: int = 0) -> str:
        """The ``taskUUID`` for this generation: a UUID v4 in form, deterministic in content.

        Runware documents ``taskUUID`` as UUID v4, so the hash is shaped as one (version and
        variant bits set) rather than sent as a v5.
        """
        parts = [
            self.dag_id,
            self.run_id,
            self.task_id,
            str(self.map_index),
            self.fingerprint,
            str(generation),
        ]
        if self.attempt is not None:
            parts.append(f"try={self.attempt}")
        name = "\x1f".join(parts)
        digest = hashlib.sha256(f"airflow-provider-sync\x1f{name}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True)
class Attachment:
    """The outcome of :func:`submit_or_attach`."""

    task_uuid: str
    generation: int
    submitted: bool
    state: TaskState | None

    @property
    def finished(self) -> bool:
        """True when the job we attached to has already finished."""
        return self.state is not None and self.state.finished


def _probe(hook: RunwareHook, task_uuid: str, logger: Any) -> TaskState | None:
    """What Runware says about ``task_uuid``, or ``None`` when the answer says nothing usable.

    The probe only saves work; it never decides alone that a job exists. Whatever it cannot
    read (a refusal that names no task, a transient fault that outlived the retries) means
    "submit", and Runware's ``conflictTaskUUID`` answer to the submission decides. Only a
    refused key or an empty account stops here: the submission would fail the same way.
    """
    try:
        return hook.get_task_state(task_uuid)
    except (RunwareAuthError, RunwareInsufficientCreditsError):
        raise
    except RunwareError as exc:
        logger.info("Could not read the state of job %s (%s); submitting under this UUID", task_uuid, exc)
        return None


def kept_job_error(error: RunwareError, task_uuid: str) -> RunwareError:
    """``error`` (a cancelled or undelivered job's) worded for the task that raises it: naming
    the job and the way to a video, since nothing renders anew by itself.

    * ``taskCancelled``: ``force_new_job=True`` renders again.
    * ``uploadFailed``: the video is at ``video_url`` when Runware gave one; otherwise
      ``output_transfer="download"`` (or ``force_new_job=True``) renders it again, delivered
      through the worker.

    Other errors come back unchanged.
    """
    kwargs: dict[str, Any] = {
        "code": error.code,
        "parameter": error.parameter,
        "task_uuid": error.task_uuid or task_uuid,
        "task_type": error.task_type,
        "status_code": error.status_code,
    }
    if isinstance(error, RunwareJobCancelledError):
        message = (
            f"Runware job {task_uuid} was cancelled ({error.code}: {error.message}). No new paid "
            "render is started by itself: set force_new_job=True and clear the task to render again."
        )
        return type(error)(message, **kwargs)
    if isinstance(error, RunwareUploadFailedError):
        where = (
            "Runware's answer gives the video's videoURL"
            if error.video_url
            else (
                'Runware gave no videoURL: output_transfer="download" renders it again, delivered '
                "through the worker (so does force_new_job=True)"
            )
        )
        message = (
            f"Runware rendered job {task_uuid} (billed) but could not upload it to the "
            f"uploadEndpoint ({error.code}: {error.message}). {where}."
        )
        return type(error)(message, video_url=error.video_url, video_uuid=error.video_uuid, **kwargs)
    return error


def _keep_finished(
    state: TaskState, generation: int, logger: Any, rerender_undelivered: bool = False
) -> Attachment | None:
    """The attachment to a failed job that must not lead to a new paid render, or ``None``.

    * ``taskCancelled``: someone stopped the job; rendering again is not ours to decide.
      The caller fails with an error naming the job and ``force_new_job``.
    * ``uploadFailed``: the job rendered (and was billed); only Runware's PUT to the
      ``uploadEndpoint`` failed. The caller takes the video from the error's ``video_url``
      when there is one, and otherwise fails naming the job -- unless
      ``rerender_undelivered`` (the user now asks for delivery through the worker): a job
      with no ``videoURL`` then gives way to the next generation.

    The attachment's error is worded by :func:`kept_job_error`.
    """
    error = state.error
    if isinstance(error, RunwareJobCancelledError):
        logger.warning(
            "Job %s for this task was cancelled at Runware; not starting a new render", state.task_uuid
        )
    elif isinstance(error, RunwareUploadFailedError):
        if rerender_undelivered and not error.video_url:
            logger.warning(
                "Job %s rendered but was never delivered and Runware gave no videoURL; "
                "rendering again to deliver through the worker",
                state.task_uuid,
            )
            return None
        logger.warning(
            "Job %s for this task rendered but its delivery to uploadEndpoint failed; re-attaching "
            "to it (its videoURL: %s)",
            state.task_uuid,
            "given" if error.video_url else "none",
        )
    else:
        return None
    worded = TaskState(
        state.task_uuid, "error", result=state.result, error=kept_job_error(error, state.task_uuid)
    )
    return Attachment(state.task_uuid, generation, False, worded)


def submit_or_attach(
    hook: RunwareHook,
    task: dict[str, Any],
    key: JobKey,
    logger: Any = log,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    *,
    rerender_undelivered: bool = False,
) -> Attachment:
    """Submit ``task`` under its deterministic UUID, unless that job exists already.

    ``prepare`` runs only when a job is really about to be submitted (for example to upload
    local media first), so re-attaching costs no upload. It is given the task with the
    ``taskUUID`` it will be submitted under (so it can name outputs after the job).

    A job that ended in error is followed by the next generation, except a cancelled job or
    one whose delivery to ``uploadEndpoint`` failed: for those the attachment comes back
    finished, its ``state.error`` a :class:`~airflow_provider_sync.exceptions.RunwareJobCancelledError`
    (naming the job and ``force_new_job``) or a
    :class:`~airflow_provider_sync.exceptions.RunwareUploadFailedError` (with the paid video's
    ``video_url`` when Runware gave one).

    :param rerender_undelivered: let an undelivered job without a ``videoURL`` give way to
        the next generation (the operator passes ``True`` when ``output_transfer="download"``).
    :raises RunwareError: when Runware refuses the submission (other than as a duplicate).
    :raises AirflowFailException: after :data:`MAX_GENERATIONS` failed jobs.
    """
    for generation in range(MAX_GENERATIONS):
        task_uuid = key.task_uuid(generation)
        state = _probe(hook, task_uuid, logger)
        if state is not None and state.status == "error":
            if (kept := _keep_finished(state, generation, logger, rerender_undelivered)) is not None:
                return kept
            logger.info(
                "Earlier job %s for this task ended in error (%s); trying a new job",
                task_uuid,
                state.error.code if state.error else "unknown",
            )
            continue
        if state is not None and state.status in ("processing", "success"):
            logger.info("Re-attaching to job %s submitted earlier (status: %s)", task_uuid, state.status)
            return Attachment(task_uuid, generation, submitted=False, state=state)
        if prepare is not None:
            task = prepare({**task, "taskUUID": task_uuid})
            prepare = None
        ack = hook.submit_task({**task, "taskUUID": task_uuid})
        if ack.get("duplicate"):
            # Runware took this taskUUID already: an earlier attempt's answer was lost (or was a
            # 504 after the job was queued), or the probe could not tell. Look again: a job
            # that has since failed must not be re-attached to.
            state = _probe(hook, task_uuid, logger)
            if state is not None and state.status == "error":
                if (kept := _keep_finished(state, generation, logger, rerender_undelivered)) is not None:
                    return kept
                continue
            logger.info(
                "Runware already has job %s (conflictTaskUUID: an earlier attempt submitted it); "
                "re-attaching",
                task_uuid,
            )
            finished = state is not None and state.finished
            return Attachment(task_uuid, generation, submitted=False, state=state if finished else None)
        return Attachment(task_uuid, generation, submitted=True, state=None)
    raise AirflowFailException(
        f"{MAX_GENERATIONS} jobs for this task instance ended in error; not submitting another. "
        "Change the parameters or clear the task after fixing the cause."
    )
