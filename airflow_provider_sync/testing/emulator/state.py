"""The emulator's memory: jobs, stored media, the request log and counters.

Everything the HTTP layer does to it goes through :class:`EmulatorState` under one lock, so
tests may read it from another thread while the server runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_sync.testing.emulator.config import PRICES_PER_AUDIO_SECOND, EmulatorConfig
from airflow_provider_sync.testing.emulator.faults import WAITING_STATUSES, FaultPlan
from airflow_provider_sync.testing.emulator.validation import validate_task

#: Audio length assumed for media the emulator cannot measure (about the sample clip's).
DEFAULT_AUDIO_SECONDS = 6.0
_EXTENSIONS = {"MP4": "mp4", "WEBM": "webm", "MOV": "mov"}


@dataclass
class Job:
    """One ``videoInference`` job."""

    task_uuid: str
    request: dict[str, Any]
    submitted_at: float
    ready_at: float
    audio_seconds: float
    cost: float
    video_uuid: str
    output_format: str
    seed: int
    fail: tuple[str, str] | None = None
    output: Future[Path] | None = None
    output_path: Path | None = None
    #: Videos beyond the first, for ``numberResults`` > 1 (Runware answers one item each).
    extra_videos: list[str] = field(default_factory=list)
    #: ``upload_failed``: the job skips its PUT and ends in this error (code, message) ...
    upload_failure: tuple[str, str] | None = None
    #: ... and its error answer still carries the video when this is true.
    video_on_failure: bool = False
    #: ``deliver_late``: seconds between reporting success and the PUT.
    deliver_delay: float | None = None
    #: ``None`` without ``uploadEndpoint``; else ``pending``, ``delivered``, ``failed`` or
    #: ``skipped`` (the job failed before its PUT).
    delivery: str | None = None
    #: When getResponse first answered ``success``, and when the late delivery saw it.
    success_reported_at: float | None = None
    success_seen_at: float | None = None
    delivered_at: float | None = None
    deliver_now: threading.Event = field(default_factory=threading.Event)
    #: ``waiting_statuses``: answers left that report a waiting status, and which ones.
    waiting_left: int = 0
    waiting_shown: int = 0
    waiting_labels: tuple[str, ...] = ()

    @property
    def model(self) -> str:
        return str(self.request.get("model"))

    @property
    def videos(self) -> list[str]:
        """Every video UUID of the job, the first one first."""
        return [self.video_uuid, *self.extra_videos]

    def video_url(self, base_url: str, video_uuid: str | None = None) -> str:
        return f"{base_url}/media/{video_uuid or self.video_uuid}.{_EXTENSIONS[self.output_format]}"

    def serves_video(self, now: float) -> bool:
        """True once the video may be fetched: success, or a failed PUT that kept it."""
        status = self.status(now)
        if status == "success":
            return True
        return status == "error" and self.video_on_failure and self.output_path is not None

    def status(self, now: float) -> str:
        if now < self.ready_at:
            return "processing"
        if self.fail is not None:
            return "error"
        if self.output is not None and not self.output.done():
            return "processing"
        if self.output is not None and self.output.exception() is not None:
            return "error"
        return "success"

    def error(self) -> tuple[str, str]:
        from airflow_provider_sync.testing.emulator.remote import JobFailure

        if self.fail is not None:
            return self.fail
        exc = self.output.exception() if self.output is not None else None
        if isinstance(exc, JobFailure):
            return (exc.code, exc.message)
        return ("renderFailed", f"rendering failed: {exc}")

    def describe(self, now: float, base_url: str = "") -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {
            "taskUUID": self.task_uuid,
            "model": self.model,
            "status": status,
            "submitted_at": self.submitted_at,
            "ready_at": self.ready_at,
            "audio_seconds": self.audio_seconds,
            "cost": self.cost,
            "videoUUID": self.video_uuid,
            "videoURL": self.video_url(base_url),
            "outputFormat": self.output_format,
            "results": len(self.videos),
            "request": self.request,
        }
        if self.extra_videos:
            out["videos"] = [self.video_url(base_url, v) for v in self.videos]
        if self.delivery is not None:
            out["delivery"] = self.delivery
            out["success_reported_at"] = self.success_reported_at
            out["success_seen_at"] = self.success_seen_at
            out["delivered_at"] = self.delivered_at
        if status == "error":
            out["code"], out["message"] = self.error()
            out["video_served"] = self.serves_video(now)
        return out


@dataclass
class Media:
    """A stored file (uploaded, or a rendered output)."""

    media_uuid: str
    path: Path | None
    mime: str
    source_url: str | None = None


@dataclass
class EmulatorState:
    """Jobs, media, request log, counters and faults, behind one lock."""

    config: EmulatorConfig
    media_dir: Path
    faults: FaultPlan = field(default_factory=FaultPlan)
    lock: threading.RLock = field(default_factory=threading.RLock)
    jobs: dict[str, Job] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    #: taskUUIDs of submitted tasks (jobs and uploads): Runware takes each one once.
    used_uuids: set[str] = field(default_factory=set)
    log: deque[dict[str, Any]] = field(default_factory=deque)
    stats: Counter[str] = field(default_factory=Counter)
    spent_usd: float = 0.0
    _seq: int = 0
    _executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="emulator-render")
    )
    _bucket: tuple[float, float] = (0.0, 0.0)
    #: Set when the server stops, so late deliveries give up.
    stopping: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        """Stop background work: pending late deliveries end without their PUT."""
        self.stopping.set()
        with self.lock:
            for job in self.jobs.values():
                job.deliver_now.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def reset(self) -> None:
        with self.lock:
            for job in self.jobs.values():
                job.deliver_now.set()  # a late delivery of a forgotten job is dropped
            self.jobs.clear()
            self.used_uuids.clear()
            self.log.clear()
            self.stats.clear()
            self.faults.replace([])
            self.faults.injected.clear()
            self.spent_usd = 0.0

    # ---------------------------------------------------------------- bookkeeping

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._seq += 1
            self.log.append({"seq": self._seq, **entry})
            while len(self.log) > self.config.log_limit:
                self.log.popleft()

    def rate_limited(self, now: float) -> bool:
        """Token bucket: ``rate_limit`` requests per second, bursts of the same size."""
        rate = self.config.rate_limit
        if rate <= 0:
            return False
        with self.lock:
            tokens, last = self._bucket
            tokens = min(rate, tokens + (now - last) * rate) if last else rate
            if tokens < 1:
                self._bucket = (tokens, now)
                return True
            self._bucket = (tokens - 1, now)
            return False

    def summary(self) -> dict[str, Any]:
        now = time.time()
        with self.lock:
            by_status = Counter(job.status(now) for job in self.jobs.values())
            return {
                **{k: v for k, v in self.stats.items() if not k.startswith("tasks.")},
                "tasks_by_type": {k[6:]: v for k, v in self.stats.items() if k.startswith("tasks.")},
                "requests": self.stats["requests"],
                "submissions": self.stats["submissions"],
                "duplicates": self.stats["duplicates"],
                "jobs": len(self.jobs),
                "jobs_by_status": dict(by_status),
                "faults": dict(self.faults.injected),
                "spent_usd": round(self.spent_usd, 6),
            }

    # ---------------------------------------------------------------- tasks

    def handle(self, tasks: list[dict[str, Any]], base_url: str, body: str) -> tuple[list[Any], list[Any]]:
        """Answer every task of one request: (data items, error items)."""
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        now = time.time()
        with self.lock:
            for task in tasks:
                kind = task.get("taskType")
                self.stats[f"tasks.{kind}"] += 1
                if kind == "authentication":
                    if len(tasks) == 1:
                        data.append(
                            {"taskType": "authentication", "connectionSessionUUID": str(uuid.uuid4())}
                        )
                elif kind == "videoInference":
                    self._submit(task, now, base_url, body, data, errors)
                elif kind == "getResponse":
                    self._get_response(task, now, base_url, data, errors)
                elif kind == "mediaStorage":
                    self._media_storage(task, base_url, data, errors)
                else:
                    errors.append(
                        {
                            "code": "unsupportedTaskType",
                            "message": f"taskType {kind!r} is not offered here",
                            "parameter": "taskType",
                            "taskType": kind,
                            "taskUUID": task.get("taskUUID"),
                            "allowedValues": [
                                "videoInference",
                                "getResponse",
                                "mediaStorage",
                                "authentication",
                            ],
                        }
                    )
        return data, errors

    def _submit(
        self,
        task: dict[str, Any],
        now: float,
        base_url: str,
        body: str,
        data: list[Any],
        errors: list[Any],
    ) -> None:
        task_uuid = task.get("taskUUID")
        if self._conflict(task, "videoInference", errors):
            return
        problems = validate_task(task)
        if problems:
            errors.extend(problems)
            return
        assert isinstance(task_uuid, str)
        seconds = self.audio_seconds(task)
        # Runware answers one item per result (runware-python's polling waits for
        # ``numberResults`` items); each is a render, so each is billed.
        results = int(task.get("numberResults") or 1)
        cost = round(PRICES_PER_AUDIO_SECOND[task["model"]] * seconds * results, 4)
        credit = self.config.credit_usd
        if credit is not None and self.spent_usd + cost > credit + 1e-9:
            errors.append(
                {
                    "code": "insufficientCredits",
                    "message": (
                        f"this job costs USD {cost}; the account has USD {credit - self.spent_usd:.4f} left"
                    ),
                    "taskType": "videoInference",
                    "taskUUID": task_uuid,
                }
            )
            return
        self.spent_usd += cost
        render = self.config.render_seconds + self.config.render_seconds_per_audio_second * seconds
        faults = self.faults.for_job(task, body)
        job = Job(
            task_uuid=task_uuid,
            request=task,
            submitted_at=now,
            ready_at=now + render,
            audio_seconds=seconds,
            cost=cost,
            video_uuid=str(uuid.uuid4()),
            output_format=str(task.get("outputFormat") or "MP4").upper(),
            seed=int(hashlib.sha256(task_uuid.encode()).hexdigest()[:8], 16),
            extra_videos=[str(uuid.uuid4()) for _ in range(results - 1)],
        )
        end = faults.end
        if end is not None and end.kind == "upload_failed":
            job.upload_failure = (str(end.code), str(end.message))
            job.video_on_failure = end.video_url
        elif end is not None:
            job.fail = (str(end.code), str(end.message))
        if faults.deliver_late is not None:
            job.deliver_delay = faults.deliver_late.seconds
        if faults.waiting is not None:
            job.waiting_left = faults.waiting.polls
            label = faults.waiting.job_status
            job.waiting_labels = (label,) if label else WAITING_STATUSES
        if task.get("uploadEndpoint"):
            job.delivery = "skipped" if job.fail else "pending"
        # Registered before its render starts: a late delivery looks the job up.
        self.jobs[task_uuid] = job
        if job.fail is None and (self.config.output == "render" or _needs_io(task)):
            from airflow_provider_sync.testing.emulator.output import produce_output

            job.output = self._executor.submit(produce_output, job, self)
        self.used_uuids.add(task_uuid)
        self.stats["submissions"] += 1
        data.append({"taskType": "videoInference", "taskUUID": task_uuid, "status": "processing"})

    def _conflict(self, task: dict[str, Any], task_type: str, errors: list[Any]) -> bool:
        """Refuse a taskUUID seen before, the way Runware does (``conflictTaskUUID``)."""
        task_uuid = task.get("taskUUID")
        if not isinstance(task_uuid, str) or task_uuid not in self.used_uuids:
            return False
        self.stats["duplicates"] += 1
        errors.append(
            {
                "code": "conflictTaskUUID",
                "message": f"taskUUID {task_uuid} was already used by another task; send a new UUID v4",
                "parameter": "taskUUID",
                "taskType": task_type,
                "taskUUID": task_uuid,
            }
        )
        return True

    def _get_response(
        self, task: dict[str, Any], now: float, base_url: str, data: list[Any], errors: list[Any]
    ) -> None:
        self.stats["get_response"] += 1
        task_uuid = task.get("taskUUID")
        job = self.jobs.get(task_uuid) if isinstance(task_uuid, str) else None
        if job is None or self.faults.forgets(str(task_uuid)):
            style = self.config.not_found_style
            if style != "empty":
                errors.append(
                    {
                        "code": style,
                        "message": f"no task with taskUUID {task_uuid} was found",
                        "parameter": "taskUUID",
                        "taskType": "getResponse",
                        "taskUUID": task_uuid,
                    }
                )
            return
        if job.waiting_left > 0:
            # Runware's Python SDK keeps polling on these statuses (runware/base.py).
            label = job.waiting_labels[job.waiting_shown % len(job.waiting_labels)]
            job.waiting_shown += 1
            job.waiting_left -= 1
            data.append({"taskType": "videoInference", "taskUUID": job.task_uuid, "status": label})
            return
        status = job.status(now)
        if status == "processing":
            data.append({"taskType": "videoInference", "taskUUID": job.task_uuid, "status": "processing"})
        elif status == "error":
            code, message = job.error()
            # A failed PUT may leave the rendered video reachable (unpublished either way).
            video = (
                {"videoUUID": job.video_uuid, "videoURL": job.video_url(base_url)}
                if job.serves_video(now)
                else {}
            )
            if self.config.job_error_style == "nested":
                data.append(
                    {
                        "taskType": "videoInference",
                        "taskUUID": job.task_uuid,
                        "status": "error",
                        "error": {"code": code, "message": message},
                        **video,
                    }
                )
            else:
                errors.append(
                    {
                        "code": code,
                        "message": message,
                        "taskType": "videoInference",
                        "taskUUID": job.task_uuid,
                        **video,
                    }
                )
        else:
            if job.success_reported_at is None:
                job.success_reported_at = now
            for n, video_uuid in enumerate(job.videos):
                out = {
                    "taskType": "videoInference",
                    "taskUUID": job.task_uuid,
                    "status": "success",
                    "videoUUID": video_uuid,
                    "videoURL": job.video_url(base_url, video_uuid),
                    "seed": job.seed + n,
                    "outputFormat": job.output_format,
                }
                if job.request.get("includeCost"):
                    out["cost"] = round(job.cost / len(job.videos), 4)
                data.append(out)

    def _media_storage(self, task: dict[str, Any], base_url: str, data: list[Any], errors: list[Any]) -> None:
        task_uuid = task.get("taskUUID")
        operation = task.get("operation", "upload")
        base_error = {"taskType": "mediaStorage", "taskUUID": task_uuid}
        if self._conflict(task, "mediaStorage", errors):
            return
        if isinstance(task_uuid, str):
            self.used_uuids.add(task_uuid)
        if operation == "delete":
            # Runware's media-storage schema names the media to delete in ``media``.
            item = self.media.pop(str(task.get("media")), None)
            if item is None:
                errors.append(
                    {
                        **base_error,
                        "code": "mediaNotFound",
                        "parameter": "media",
                        "message": "no stored media with that UUID",
                    }
                )
                return
            if item.path is not None:
                item.path.unlink(missing_ok=True)
            data.append({**base_error, "operation": "delete", "mediaUUID": item.media_uuid})
            return
        if operation != "upload":
            errors.append(
                {
                    **base_error,
                    "code": "invalidParameter",
                    "parameter": "operation",
                    "message": f"operation {operation!r} is not offered",
                    "allowedValues": ["upload", "delete"],
                }
            )
            return
        media = task.get("media")
        try:
            stored = self.store_media(media)
        except ValueError as exc:
            errors.append({**base_error, "code": "invalidMedia", "parameter": "media", "message": str(exc)})
            return
        self.stats["media_uploads"] += 1
        # runware-typescript's MediaStorageResult: an upload answer names its operation.
        data.append(
            {
                **base_error,
                "operation": "upload",
                "mediaUUID": stored.media_uuid,
                "mediaURL": f"{base_url}/media/{stored.media_uuid}",
            }
        )

    # ---------------------------------------------------------------- media

    def store_media(self, media: Any) -> Media:
        """Keep an uploaded data URI / base64 string as a file; remember a URL as it is."""
        if not isinstance(media, str) or not media.strip():
            raise ValueError("media must be a data URI, a base64 string or a URL")
        media_uuid = str(uuid.uuid4())
        if media.startswith(("http://", "https://")):
            item = Media(media_uuid, self.resolve_url(media), "application/octet-stream", source_url=media)
        else:
            mime = "application/octet-stream"
            payload = media
            if media.startswith("data:"):
                header, _, payload = media.partition(",")
                mime = header[5:].split(";")[0] or mime
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("media is neither a URL nor valid base64") from None
            if not raw:
                raise ValueError("media is empty")
            path = self.media_dir / "uploads" / f"{media_uuid}{_suffix_for(mime)}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
            item = Media(media_uuid, path, mime)
        self.media[media_uuid] = item
        return item

    def resolve_url(self, url: str) -> Path | None:
        """The local file behind one of our own ``/media/`` URLs, if it is one."""
        name = url.rsplit("/media/", 1)[-1] if "/media/" in url else None
        if name is None:
            return None
        item = self.media.get(name.split(".")[0])
        return item.path if item else None

    def audio_seconds(self, task: dict[str, Any]) -> float:
        """Seconds of audio billed: segments' total, else the inputs' lengths as far as known."""
        from airflow_provider_sync.testing.emulator import request_shape as shape

        segments = shape.segments(task)
        if segments:
            return round(sum(float(s["endTime"]) - float(s["startTime"]) for s in segments), 3)
        speech = shape.speech_inputs(task)
        audio = shape.audio_inputs(task)
        if audio:
            return self._media_seconds(audio[0][1])
        if speech:
            return round(_speech_seconds(speech[0][1]), 3)
        return DEFAULT_AUDIO_SECONDS

    def _media_seconds(self, source: str) -> float:
        """Length of the audio the render will use: the real file, or the stand-in sample."""
        if self.config.output != "render":
            return DEFAULT_AUDIO_SECONDS
        try:
            from airflow_provider_sync.testing.emulator.output import audio_fallback, resolve_source
            from airflow_provider_sync.testing.emulator.render import probe_media
            from airflow_provider_sync.testing.emulator.samples import ensure_samples

            samples = ensure_samples(self.media_dir / "samples")
            path = resolve_source(source, self, audio_fallback(source, samples.audio))
            return round(probe_media(path).duration, 3)
        except Exception:  # unreadable upload: bill the default, the render will fail loudly
            return DEFAULT_AUDIO_SECONDS


def _needs_io(task: dict[str, Any]) -> bool:
    """True when a job must reach the network (loopback only): URL inputs or uploadEndpoint."""
    from airflow_provider_sync.testing.emulator.output import input_sources
    from airflow_provider_sync.testing.emulator.remote import is_loopback_url

    return bool(task.get("uploadEndpoint")) or any(is_loopback_url(s) for s in input_sources(task))


def _speech_seconds(text: str) -> float:
    try:
        from airflow_provider_sync.testing.emulator.synth import speech_duration

        return float(speech_duration(text))
    except ImportError:
        return max(0.5, len(text) / 15.0)


def _suffix_for(mime: str) -> str:
    return {
        "video/mp4": ".mp4",
        "video/quicktime": ".mov",
        "video/webm": ".webm",
        "video/x-matroska": ".mkv",
        "audio/wav": ".wav",
        "audio/x-wav": ".wav",
        "audio/mpeg": ".mp3",
        "audio/mp4": ".m4a",
        "audio/aac": ".aac",
        "audio/ogg": ".ogg",
        "audio/opus": ".opus",
        "audio/flac": ".flac",
        "audio/webm": ".webm",
    }.get(mime, ".bin")
