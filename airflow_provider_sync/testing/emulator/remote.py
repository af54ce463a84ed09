"""What the emulator fetches and delivers over HTTP, as Runware does for URL inputs and
``uploadEndpoint`` (it PUTs the finished file there).

The emulator never goes online: only loopback addresses are fetched from or delivered to,
so tests can point it at a local object store (a presigned URL of an S3-protocol server on
127.0.0.1) and count every byte. Anything else keeps the old behaviour: inputs fall back to
sample media, and an ``uploadEndpoint`` elsewhere is refused at submission.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from airflow_provider_sync.testing.emulator.state import EmulatorState, Job

#: Seconds allowed for one fetch or delivery (connect, and each read or write).
TIMEOUT = 60.0
CHUNK = 1024 * 1024
#: How often a late delivery looks whether its job has turned ``success``.
_LATE_CHECK_SECONDS = 0.02


class JobFailure(Exception):
    """A job ends in error with Runware's ``code`` (e.g. ``downloadFailed``, ``uploadFailed``,
    codes runware-typescript lists among provider errors)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is on this machine (127.0.0.0/8, ::1, localhost)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def fetch(url: str, state: EmulatorState) -> Path:
    """Download an input URL into the emulator's media folder; count the bytes."""
    suffix = PurePosixPath(urlsplit(url).path).suffix[:8]
    target = state.media_dir / "fetched" / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    received = 0
    try:
        with httpx.stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as resp:
            if resp.status_code >= 400:
                raise JobFailure("downloadFailed", f"fetching an input answered HTTP {resp.status_code}")
            with target.open("wb") as out:
                for chunk in resp.iter_bytes(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
    except httpx.HTTPError as exc:
        raise JobFailure("downloadFailed", f"fetching an input failed: {type(exc).__name__}") from None
    with state.lock:
        state.stats["fetched_bytes"] += received
        state.stats["fetched_inputs"] += 1
    return target


def deliver(path: Path, url: str, content_type: str, state: EmulatorState) -> int:
    """PUT the finished file to the task's ``uploadEndpoint``; count the bytes."""
    size = path.stat().st_size

    def body() -> object:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    try:
        resp = httpx.put(
            url,
            content=body(),  # type: ignore[arg-type]
            headers={"Content-Type": content_type, "Content-Length": str(size)},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise JobFailure(
            "uploadFailed", f"uploading to uploadEndpoint failed: {type(exc).__name__}"
        ) from None
    if resp.status_code >= 400:
        raise JobFailure("uploadFailed", f"uploadEndpoint answered HTTP {resp.status_code}")
    with state.lock:
        state.stats["delivered_bytes"] += size
        state.stats["deliveries"] += 1
    return size


def deliver_result(job: Job, path: Path, content_type: str, state: EmulatorState) -> None:
    """Hand the finished file to the job's ``uploadEndpoint``, as its faults say.

    Normally the PUT happens before the job turns ``success`` (a failed PUT fails the job).
    ``upload_failed`` skips the PUT and fails the job; ``deliver_late`` lets the job turn
    ``success`` first and PUTs ``deliver_delay`` seconds after that, from its own thread.
    """
    endpoint = job.request.get("uploadEndpoint")
    if not endpoint:
        return
    if job.upload_failure is not None:
        with state.lock:
            job.delivery = "failed"
            state.stats["failed_deliveries"] += 1
        raise JobFailure(*job.upload_failure)
    if job.deliver_delay is not None:
        threading.Thread(
            target=_deliver_late,
            args=(job, path, str(endpoint), content_type, state),
            name=f"emulator-late-delivery-{job.task_uuid[:8]}",
            daemon=True,
        ).start()
        return
    try:
        deliver(path, str(endpoint), content_type, state)
    except JobFailure:
        with state.lock:
            job.delivery = "failed"
            state.stats["failed_deliveries"] += 1
        raise
    with state.lock:
        job.delivery = "delivered"
        job.delivered_at = time.time()


def _deliver_late(job: Job, path: Path, url: str, content_type: str, state: EmulatorState) -> None:
    """Wait until ``job`` answers ``success``, then ``deliver_delay`` seconds, then PUT."""
    while True:
        if state.stopping.is_set() or state.jobs.get(job.task_uuid) is not job:
            return
        # Called from the render itself: its future is set (and done) only after it returns.
        status = job.status(time.time()) if job.output is not None and job.output.done() else "processing"
        if status == "success":
            break
        if status == "error":
            with state.lock:
                job.delivery = "skipped"
            return
        state.stopping.wait(_LATE_CHECK_SECONDS)
    with state.lock:
        job.success_seen_at = time.time()
    job.deliver_now.wait(job.deliver_delay)  # the admin API may cut the wait short
    if state.stopping.is_set() or state.jobs.get(job.task_uuid) is not job:
        return
    try:
        deliver(path, url, content_type, state)
    except JobFailure:
        # Success was reported already; all the emulator can do is count it.
        with state.lock:
            job.delivery = "failed"
            state.stats["failed_deliveries"] += 1
        return
    with state.lock:
        job.delivery = "delivered"
        job.delivered_at = time.time()
        state.stats["late_deliveries"] += 1
