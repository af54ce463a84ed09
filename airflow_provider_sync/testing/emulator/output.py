"""What a finished job returns: a real video (``render`` mode) or a JSON description.

In ``render`` mode the inputs are resolved to local files -- media uploaded to the emulator,
its own ``/media/`` URLs, ``file://`` paths, URLs on loopback (fetched, as Runware fetches
URL inputs) -- and anything it cannot reach (it never goes online; the UUIDs in Runware's
docs) is replaced by generated sample media. Speech inputs become a synthetic voice-like
signal. A task's ``uploadEndpoint`` (on loopback) receives the finished file by PUT.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_sync.testing.emulator import request_shape as shape
from airflow_provider_sync.testing.emulator.remote import JobFailure, deliver_result, fetch, is_loopback_url

if TYPE_CHECKING:
    from airflow_provider_sync.testing.emulator.state import EmulatorState, Job

_EXTENSIONS = {"MP4": "mp4", "WEBM": "webm", "MOV": "mov"}
MIME_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "json": "application/json"}


def output_path(job: Job, state: EmulatorState) -> Path:
    """Where the job's output file lives."""
    return state.media_dir / "outputs" / f"{job.video_uuid}.{_EXTENSIONS[job.output_format]}"


def produce_output(job: Job, state: EmulatorState) -> Path:
    """Render (or describe) the job's result into :func:`output_path`; return that path.

    :raises JobFailure: when the job fails. Its message names inputs as the client sent
        them (a media UUID, a URL), never the emulator's own copies of them, as Runware
        knows nothing of where it keeps a file.
    """
    named: dict[Path, str] = {}  # the emulator's file of each input -> what the client sent
    try:
        return _produce(job, state, named)
    except JobFailure:
        raise
    except Exception as exc:
        raise JobFailure("processingFailed", f"rendering failed: {_public(exc, named, state)}") from None


def _public(exc: BaseException, named: dict[Path, str], state: EmulatorState) -> str:
    """``exc`` as a message with the emulator's file paths replaced by what the client sent."""
    text = f"{type(exc).__name__}: {exc}"
    for path, source in sorted(named.items(), key=lambda item: -len(str(item[0]))):
        text = text.replace(str(path), source)
    # Anything else of ours (an output being written, a sample) is nobody else's business.
    return re.sub(rf"{re.escape(str(state.media_dir))}[^\s'\"]*", "<emulator file>", text)


def _readable(path: Path, source: str, role: str) -> None:
    """Fail the job, naming ``source``, unless ``path`` holds the media ``role`` needs."""
    from airflow_provider_sync.testing.emulator.render import probe_media

    try:
        info = probe_media(path)
    except Exception as exc:  # PyAV raises many kinds; every one means "not media we can read"
        raise JobFailure(
            "processingFailed", f"the {role} input {source} could not be read ({type(exc).__name__})"
        ) from None
    has = info.has_video if role == "video" else info.has_audio
    if not has:
        raise JobFailure("processingFailed", f"the {role} input {source} has no {role} stream")


def _produce(job: Job, state: EmulatorState, named: dict[Path, str]) -> Path:
    target = output_path(job, state)
    target.parent.mkdir(parents=True, exist_ok=True)
    if state.config.output != "render":
        for source in input_sources(job.request):
            if is_loopback_url(source):
                fetch(source, state)  # as Runware would: the input must be reachable
        target.write_text(json.dumps(describe(job), indent=2))
        job.output_path = target
        _deliver(job, target, state)
        return target
    from airflow_provider_sync.testing.emulator.render import render_sync_output
    from airflow_provider_sync.testing.emulator.samples import ensure_samples

    samples = ensure_samples(state.media_dir / "samples")
    request = job.request
    inputs = request.get("inputs") or {}
    video_source = str(inputs.get("video"))
    video = resolve_source(video_source, state, samples.video)
    named[video] = video_source
    _readable(video, video_source, "video")
    tracks: dict[str, Path] = {}
    for key, source in shape.audio_inputs(request):
        track = resolve_source(source, state, audio_fallback(source, samples.audio))
        named[track] = source
        _readable(track, source, "audio")
        tracks[key] = track
    for key, text, voice in shape.speech_inputs(request):
        tracks[key] = speech_track({"text": text, "provider": {"voiceId": voice}}, state)
    sync = shape.settings(request)
    segments = shape.segments(request)
    render_sync_output(
        video_path=video,
        audio_tracks=tracks,
        sync_mode=str(sync.get("syncMode", shape.default_sync_mode(request))),
        segments=segments or None,
        output_format=job.output_format,
        output_quality=request.get("outputQuality"),
        overlay_lines=overlay_lines(request),
        out_path=target,
    )
    job.output_path = target
    _deliver(job, target, state)
    return target


def input_sources(request: dict[str, Any]) -> list[str]:
    """Every media source a ``videoInference`` task names (video first)."""
    sources = [str((request.get("inputs") or {}).get("video"))]
    return sources + [source for _key, source in shape.audio_inputs(request)]


def _deliver(job: Job, target: Path, state: EmulatorState) -> None:
    ext = target.suffix.lstrip(".")
    deliver_result(job, target, MIME_TYPES.get(ext, "application/octet-stream"), state)


def overlay_lines(request: dict[str, Any]) -> list[str]:
    """What the demo viewer should see was asked for: the model and each setting it was given."""
    sync = shape.settings(request)
    lines = [
        f"{request.get('model')} (emulated)",
        f"syncMode: {sync.get('syncMode', shape.default_sync_mode(request))}",
    ]
    if "segments" in sync:
        lines.append(f"segments: {len(sync['segments'])}")
    if "emotionPrompt" in sync:
        lines.append(f"emotion: {sync['emotionPrompt']}")
    if "editRegion" in sync:
        lines.append(f"editRegion: {sync['editRegion']}")
    for key in ("mode", "temperature", "occlusionDetection"):
        if shape.is_sync3(request) and key in sync:
            lines.append(f"{key}: {sync[key]}")
    asd = sync.get("activeSpeakerDetection")
    if isinstance(asd, dict):
        picked = ", ".join(f"{k}={'...' if k == 'boundingBoxes' else v}" for k, v in asd.items())
        lines.append(f"activeSpeakerDetection: {picked}")
    for _key, _text, voice in shape.speech_inputs(request) if shape.is_sync3(request) else []:
        lines.append(f"speech voice: {voice}")
    return lines


def audio_fallback(source: str, samples: list[Path]) -> Path:
    """The sample audio standing in for an unreachable ``source`` (the same one every time)."""
    return samples[int(hashlib.sha256(source.encode()).hexdigest(), 16) % len(samples)]


def resolve_source(source: str, state: EmulatorState, fallback: Path) -> Path:
    """A local file for an input, or ``fallback`` when the emulator cannot reach it."""
    item = state.media.get(source)
    if item is not None and item.path is not None and item.path.exists():
        return item.path
    own = state.resolve_url(source)
    if own is not None and own.exists():
        return own
    if is_loopback_url(source):
        return fetch(source, state)
    local = Path(source.removeprefix("file://"))
    if (source.startswith("file://") or local.is_absolute()) and local.exists():
        return local
    return fallback


def speech_track(item: dict[str, Any], state: EmulatorState) -> Path:
    """The synthetic voice for one speech input (cached by text and voice)."""
    from airflow_provider_sync.testing.emulator.synth import synthesize_speech

    text = str(item.get("text", ""))
    voice = str((item.get("provider") or {}).get("voiceId", "voice"))
    key = hashlib.sha256(f"{voice}\x1f{text}".encode()).hexdigest()[:24]
    path = state.media_dir / "speech" / f"{key}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        synthesize_speech(text, voice, path)
    return path


def describe(job: Job) -> dict[str, Any]:
    """The ``metadata`` output: what a render would have been made of."""
    return {
        "emulated": True,
        "taskUUID": job.task_uuid,
        "videoUUID": job.video_uuid,
        "model": job.model,
        "outputFormat": job.output_format,
        "audioSeconds": job.audio_seconds,
        "cost": job.cost,
        "request": job.request,
    }
