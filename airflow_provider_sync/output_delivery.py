"""A finished job's output: Runware's success read and checked, and the video put in its place.

Once Runware reports that a job succeeded, whoever waited for it (the operator polling in
the worker, the operator resumed after its trigger fired, or anything else given a task UUID)
still has to:

1. read the success item (:func:`read_success`, with the protocol's
   :func:`~airflow_provider_sync.protocol.read_video_result`): the ``videoURL`` must be one
   the worker may show and fetch, ``cost`` a finite number >= 0 (anything else is dropped,
   with a warning, before it reaches XCom or an asset event);
2. when Runware was asked to PUT the video into object storage (a presigned
   ``uploadEndpoint``), make sure it landed: Runware has not published whether a job's
   success is reported before or after its PUT, so the object is waited for, up to
   :data:`DELIVERY_WAIT` seconds (:func:`wait_for_delivery`, or :func:`await_delivery` in the
   triggerer), by a presigned ``HEAD`` request that moves no video bytes;
3. otherwise -- nothing was to be delivered, or the delivery did not come -- download the
   video from ``videoURL`` to ``output_path`` (:func:`place_output`). A delivery that lands
   after that writes the same job's video over the same object: the download writes it
   without refusing it as "already exists".

A job whose only failure was that PUT (``uploadFailed``) but whose answer gives the
``videoURL`` is read as a success too (:func:`undelivered_as_success`): the render is paid, so
its video is taken from there rather than lost.

A success with no ``videoURL`` and nothing delivered is not a result: it fails naming the job
(code ``missingVideo``); a retry re-attaches to the job and asks again, it never renders anew.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import RunwareError, RunwareJobError, RunwareUploadFailedError
from airflow_provider_sync.job_watch import format_duration
from airflow_provider_sync.object_storage import presign
from airflow_provider_sync.payloads import DeliveryCheck, JobEvent, SuccessEvent, SyncResult
from airflow_provider_sync.protocol import read_video_result
from airflow_provider_sync.url_checks import check_result_url

if TYPE_CHECKING:
    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.paths import MediaRoots

#: Seconds to wait, after Runware reported a job's success, for its PUT to the presigned
#: ``uploadEndpoint`` to land before downloading the video from ``videoURL`` instead.
DELIVERY_WAIT = 60.0
#: Seconds between two checks for the delivered object.
DELIVERY_POLL = 1.0
#: Seconds one check (a HEAD request to the object store) may take.
DELIVERY_CHECK_TIMEOUT = 10.0
#: Lifetime of the presigned HEAD URL a check uses beyond the wait itself.
CHECK_URL_MARGIN = 900


@dataclass(frozen=True)
class OutputTarget:
    """Where a job's video should end up, as the task asked.

    :param path: ``output_path`` as given (``None`` or empty: the video is not saved).
    :param roots: where run-time paths may point.
    :param from_template: ``path`` was a run-time value (held to ``roots``).
    :param overwrite: an existing file may be replaced.
    :param output_format: the output format the job was submitted with.
    :param delivered_to: the object Runware was asked to PUT the video to, if any.
    :param prior_etag: the ETag the object at ``delivered_to`` had before the job (an object
        still carrying it is not the delivery).
    """

    path: str | None
    roots: MediaRoots
    from_template: bool
    overwrite: bool
    output_format: str = "MP4"
    delivered_to: str | None = None
    prior_etag: str | None = None

    @property
    def wanted(self) -> bool:
        """Whether the video is to be saved at all."""
        from airflow_provider_sync.media_plan import has_output_path

        return has_output_path(self.path)


# ---------------------------------------------------------------- reading the success


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None``.

    Python's JSON reader accepts ``Infinity`` and ``NaN``; the metadata database's JSON
    columns, and JSON readers downstream, do not.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def read_success(
    event: SuccessEvent,
    *,
    model: str | None,
    output_format: str,
    base_url: Callable[[], str],
    logger: Any,
) -> SyncResult:
    """The task's result for a job Runware reported as succeeded.

    :param base_url: gives the connection's API URL (a plain http ``videoURL`` is accepted
        only from an emulator on loopback).
    :raises RunwareJobError: the ``videoURL`` is not one the worker may use (``invalidVideoURL``).
    """
    task_uuid = str(event["task_uuid"])
    given = dict(event.get("result") or {})
    read = read_video_result(given)
    raw = json_safe(given)
    if read.video_url:
        check_result_url(read.video_url, task_uuid, base_url)
    if read.cost_raw is not None and read.cost is None:
        logger.warning(
            "Runware task %s reported a cost that is not a number >= 0 (%s); recording none",
            task_uuid,
            type(read.cost_raw).__name__,
        )
        raw["cost"] = None
    return {
        "task_uuid": task_uuid,
        "model": model,
        "status": "success",
        "video_url": read.video_url,
        "video_uuid": read.video_uuid,
        "cost": read.cost,
        "seed": read.seed,
        "output_format": output_format,
        "elapsed": event.get("elapsed"),
        # Everything Runware said, known fields or not (tolerant on input).
        "raw": raw,
    }


def undelivered_as_success(error: RunwareError, event: JobEvent, logger: Any) -> SuccessEvent | None:
    """A job whose only failure was Runware's PUT (``uploadFailed``), read as a success when its
    answer still gives the ``videoURL``; ``None`` for any other error.

    The render is done and billed: its video is taken from ``videoURL`` (then saved like any
    other, see :func:`place_output` with a ``failed`` delivery) rather than failing the task.
    """
    if not isinstance(error, RunwareUploadFailedError) or not error.video_url:
        return None
    task_uuid = str(event["task_uuid"])
    logger.warning(
        "Runware rendered job %s but could not upload it to the uploadEndpoint (%s: %s); "
        "taking the video from its videoURL instead",
        task_uuid,
        error.code,
        error.message,
    )
    return {
        "status": "success",
        "task_uuid": task_uuid,
        "elapsed": float(event.get("elapsed") or 0.0),
        "polls": int(event.get("polls") or 0),
        "result": {"videoURL": error.video_url, "videoUUID": error.video_uuid},
    }


# ---------------------------------------------------------------- waiting for a delivery


def check_url(delivered_to: str, lifetime: float) -> str | None:
    """A presigned ``HEAD`` URL for the object Runware PUTs to (``None`` if it cannot be signed)."""
    return presign(delivered_to, "HEAD", int(lifetime) + CHECK_URL_MARGIN)


def _delivered_size(resp: httpx.Response, prior_etag: str | None) -> int | None:
    """The delivered object's size, or ``None`` while it is not there."""
    if resp.status_code != 200:
        return None  # 404 (not yet), 403 (no list right), 5xx: keep waiting
    if prior_etag is not None and resp.headers.get("etag") == prior_etag:
        return None  # still the object the job is replacing
    try:
        size = int(resp.headers.get("content-length", "0"))
    except ValueError:
        return None
    return size if size > 0 else None  # a video is never empty


def wait_for_delivery(
    url: str,
    *,
    prior_etag: str | None = None,
    wait: float = DELIVERY_WAIT,
    poll: float = DELIVERY_POLL,
) -> DeliveryCheck:
    """Wait (in the worker) until the object behind the presigned HEAD ``url`` is there.

    Ends after ``wait`` seconds at most (plus one check's :data:`DELIVERY_CHECK_TIMEOUT`).
    """
    started = time.monotonic()
    with httpx.Client(timeout=DELIVERY_CHECK_TIMEOUT, follow_redirects=False) as client:
        while True:
            try:
                size = _delivered_size(client.head(url), prior_etag)
            except httpx.HTTPError:
                size = None
            waited = time.monotonic() - started
            if size is not None:
                return {"status": "delivered", "bytes": size, "waited": round(waited, 3)}
            if waited >= wait:
                return {"status": "missing", "bytes": None, "waited": round(waited, 3)}
            time.sleep(min(poll, wait - waited))


async def await_delivery(
    url: str,
    *,
    prior_etag: str | None = None,
    wait: float = DELIVERY_WAIT,
    poll: float = DELIVERY_POLL,
) -> DeliveryCheck:
    """:func:`wait_for_delivery` for the triggerer: never blocks the event loop."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=DELIVERY_CHECK_TIMEOUT, follow_redirects=False) as client:
        while True:
            try:
                size = _delivered_size(await client.head(url), prior_etag)
            except httpx.HTTPError:
                size = None
            waited = time.monotonic() - started
            if size is not None:
                return {"status": "delivered", "bytes": size, "waited": round(waited, 3)}
            if waited >= wait:
                return {"status": "missing", "bytes": None, "waited": round(waited, 3)}
            await asyncio.sleep(min(poll, wait - waited))


# ---------------------------------------------------------------- putting the video in place


def missing_video(task_uuid: str, target: OutputTarget) -> RunwareJobError:
    """The error for a success that left no video to take."""
    where = ""
    if target.delivered_to:
        where = f" and nothing was delivered to {describe_source(target.delivered_to)}"
    return RunwareJobError(
        f"Runware reported job {task_uuid} as succeeded, but its answer has no videoURL{where}. "
        f"The render may still be retrievable: a retry of this task re-attaches to job {task_uuid} "
        "and asks Runware again (it does not render anew)",
        code="missingVideo",
        task_uuid=task_uuid,
    )


def place_output(
    result: SyncResult,
    target: OutputTarget,
    hook: RunwareHook,
    logger: Any,
    delivery: DeliveryCheck | None = None,
    *,
    wait: float | None = None,
) -> SyncResult:
    """Put the job's video where ``target`` says; return ``result`` with ``output_path`` and
    ``output_bytes`` when it was saved.

    :param delivery: what the triggerer found out about the delivery already (no wait here
        then, one more check only), or ``failed`` when Runware said its PUT failed (no check);
        ``None``: wait here, up to ``wait`` seconds.
    :param wait: seconds to wait for a delivery (default :data:`DELIVERY_WAIT`).
    :raises RunwareJobError: no ``videoURL`` and nothing delivered (``missingVideo``).
    :raises SyncValidationError: the file to download to exists (without ``overwrite``) or
        is no longer allowed.
    """
    task_uuid = result["task_uuid"]
    put_failed = delivery is not None and delivery["status"] == "failed"
    if target.delivered_to:
        size = (
            None
            if put_failed
            else _delivered(target, delivery, DELIVERY_WAIT if wait is None else wait, logger)
        )
        if size is not None:
            logger.info(
                "Runware delivered the video to %s (%.1f MiB); the worker did not download it",
                describe_source(target.delivered_to),
                size / 2**20,
            )
            result["output_path"], result["output_bytes"] = target.delivered_to, size
            return result
        if not result.get("video_url"):
            raise missing_video(task_uuid, target)
        if put_failed:
            logger.info(
                "Writing job %s's video from videoURL to %s, where Runware's upload failed",
                task_uuid,
                describe_source(target.delivered_to),
            )
        else:
            logger.warning(
                "Runware reported job %s as succeeded, but its video did not arrive at %s; "
                "downloading it from videoURL and writing it there instead",
                task_uuid,
                describe_source(target.delivered_to),
            )
        # The job's own object: a PUT landing after this writes the same video over it.
        result["output_path"], result["output_bytes"] = _download(
            result, target.delivered_to, True, hook, logger
        )
        return result
    if not result.get("video_url"):
        raise missing_video(task_uuid, target)
    if not target.wanted:
        return result
    from airflow_provider_sync.media_plan import check_output

    # Checked again: the file may have appeared while the job rendered.
    path = check_output(
        str(target.path).strip(),
        target.roots,
        target.from_template,
        result["output_format"],
        target.overwrite,
        task_uuid,
    )
    result["output_path"], result["output_bytes"] = _download(result, path, target.overwrite, hook, logger)
    return result


def _delivered(target: OutputTarget, delivery: DeliveryCheck | None, wait: float, logger: Any) -> int | None:
    """The delivered object's size, after waiting for it if nobody did; ``None``: not there."""
    assert target.delivered_to is not None
    url = check_url(target.delivered_to, wait)
    if url is None:
        return None  # cannot be checked here: download (the same job's video, written over)
    if delivery is not None:
        # The triggerer waited already: one look confirms what it saw (or that the object
        # arrived since), then a missing one is downloaded.
        wait = 0.0
    else:
        logger.info(
            "Waiting up to %s for Runware's upload to %s",
            format_duration(wait),
            describe_source(target.delivered_to),
        )
    found = wait_for_delivery(url, prior_etag=target.prior_etag, wait=wait)
    return found["bytes"] if found["status"] == "delivered" else None


def _download(
    result: SyncResult, path: str, overwrite: bool, hook: RunwareHook, logger: Any
) -> tuple[str, int]:
    from airflow_provider_sync.media import save_output

    started = time.monotonic()
    url = str(result["video_url"])
    task_uuid = result["task_uuid"]
    size = save_output(lambda p: hook.download(url, p, task_uuid=task_uuid), path, overwrite=overwrite)
    logger.info(
        "Saved the video to %s (%.1f MiB in %s)",
        describe_source(path),
        size / 2**20,
        format_duration(time.monotonic() - started),
    )
    return path, size


__all__ = [
    "CHECK_URL_MARGIN",
    "DELIVERY_CHECK_TIMEOUT",
    "DELIVERY_POLL",
    "DELIVERY_WAIT",
    "OutputTarget",
    "await_delivery",
    "check_url",
    "json_safe",
    "missing_video",
    "place_output",
    "read_success",
    "undelivered_as_success",
    "wait_for_delivery",
]
