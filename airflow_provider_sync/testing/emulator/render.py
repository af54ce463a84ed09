"""The emulator's "lip-sync": the input video with its soundtrack replaced as Sync would lay it out.

No lips move (that is the real model's job); what is real is the file: the requested
container and codecs, the video's length, and an audio track placed exactly as ``syncMode``
or ``segments`` say, with a caption naming what was asked for.

Layout rules when audio and video lengths differ (our reading of the vendor's page):

* ``bounce``: forward, then backward, then forward ... until the video ends;
* ``loop``: the audio again from its start;
* ``cut_off``: cut at the video's end; a shorter audio is followed by silence;
* ``silence``: silence after the audio ends (a longer audio is cut at the video's end);
* ``remap``: the audio resampled to exactly the video's length (pitch shifts with it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

RATE = 48000
_CONTAINERS = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm"}


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe_media` found in a file."""

    duration: float
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None
    sample_rate: int | None
    video_codec: str | None
    audio_codec: str | None
    format_name: str
    video_duration: float | None
    audio_duration: float | None


@dataclass(frozen=True)
class RenderResult:
    """A rendered file and its main figures."""

    path: Path
    duration: float
    audio_duration: float
    output_format: str
    width: int
    height: int


def _stream_seconds(stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def probe_media(path: Path) -> MediaInfo:
    """Durations, codecs and sizes of a media file (decoding only as far as needed)."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        v_dur = _stream_seconds(video) if video else None
        a_dur = _stream_seconds(audio) if audio else None
        if audio is not None and a_dur is None:
            a_dur = len(decode_audio(path, RATE)) / RATE
        total = float(container.duration) / 1e6 if container.duration else max(v_dur or 0, a_dur or 0)
        return MediaInfo(
            duration=total,
            has_video=video is not None,
            has_audio=audio is not None,
            width=video.codec_context.width if video else None,
            height=video.codec_context.height if video else None,
            fps=float(video.average_rate) if video and video.average_rate else None,
            sample_rate=audio.codec_context.sample_rate if audio else None,
            video_codec=video.codec_context.name if video else None,
            audio_codec=audio.codec_context.name if audio else None,
            format_name=container.format.name,
            video_duration=v_dur,
            audio_duration=a_dur,
        )


def decode_audio(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream as mono float32 samples at ``sample_rate``."""
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


def audio_rms_profile(path: Path, window: float = 0.1) -> list[float]:
    """Loudness (RMS) of the audio per ``window`` seconds."""
    rate = 16000
    samples = decode_audio(path, rate)
    step = max(1, round(window * rate))
    return [float(np.sqrt(np.mean(samples[i : i + step] ** 2))) for i in range(0, len(samples), step)]


def lay_out(audio: np.ndarray, length: int, sync_mode: str) -> np.ndarray:
    """Fit ``audio`` to ``length`` samples as ``sync_mode`` says."""
    if len(audio) == 0:
        return np.zeros(length, dtype=np.float32)
    if sync_mode == "remap":
        src = np.linspace(0.0, 1.0, num=len(audio))
        dst = np.linspace(0.0, 1.0, num=length)
        return np.interp(dst, src, audio).astype(np.float32)
    if len(audio) >= length or sync_mode in ("cut_off", "silence"):
        out = np.zeros(length, dtype=np.float32)
        take = min(length, len(audio))
        out[:take] = audio[:take]
        return out
    if sync_mode == "loop":
        return np.tile(audio, length // len(audio) + 1)[:length].astype(np.float32)
    if sync_mode == "bounce":
        cycle = np.concatenate([audio, audio[::-1]])
        return np.tile(cycle, length // len(cycle) + 1)[:length].astype(np.float32)
    raise ValueError(f"unknown syncMode {sync_mode!r}")


def lay_out_segments(
    tracks: Mapping[str, np.ndarray], segments: Sequence[Mapping[str, Any]], length: int, rate: int
) -> np.ndarray:
    """Each video range gets its referenced track (cropped if asked); silence elsewhere."""
    out = np.zeros(length, dtype=np.float32)
    for seg in segments:
        start = min(length, round(float(seg["startTime"]) * rate))
        end = min(length, round(float(seg["endTime"]) * rate))
        track = tracks[str(seg["ref"])]
        a0 = round(float(seg.get("audioStartTime") or 0) * rate)
        a1 = round(float(seg["audioEndTime"]) * rate) if seg.get("audioEndTime") is not None else len(track)
        piece = track[a0:a1][: end - start]
        out[start : start + len(piece)] = piece
    return out


def _crf(quality: int | None, worst: int, best: int) -> int:
    q = 95 if quality is None else max(20, min(99, int(quality)))
    return round(worst - (q - 20) * (worst - best) / 79)


def render_sync_output(
    *,
    video_path: Path,
    audio_tracks: Mapping[str, Path],
    sync_mode: str = "bounce",
    segments: Sequence[Mapping[str, Any]] | None = None,
    output_format: str = "MP4",
    output_quality: int | None = None,
    overlay_lines: Sequence[str] = (),
    out_path: Path,
) -> RenderResult:
    """Write ``video_path`` with its audio replaced per ``sync_mode``/``segments`` to ``out_path``."""
    import av
    from PIL import ImageDraw

    fmt = output_format.upper()
    if fmt not in _CONTAINERS:
        raise ValueError(f"output format {output_format!r}; allowed: {', '.join(_CONTAINERS)}")
    if not audio_tracks:
        raise ValueError("no audio track to lay over the video")
    tracks = {key: decode_audio(path, RATE) for key, path in audio_tracks.items()}
    info = probe_media(video_path)
    duration = info.video_duration or info.duration
    length = round(duration * RATE)
    if segments:
        audio = lay_out_segments(tracks, segments, length, RATE)
    else:
        audio = lay_out(next(iter(tracks.values())), length, sync_mode)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.part.{_CONTAINERS[fmt]}")
    with av.open(str(video_path)) as src, av.open(str(tmp), "w", format=_CONTAINERS[fmt]) as out:
        in_video = src.streams.video[0]
        fps = in_video.average_rate or Fraction(25)
        if fmt == "WEBM":
            vs = out.add_stream(
                "libvpx-vp9",
                rate=fps,
                options={
                    "crf": str(_crf(output_quality, 50, 20)),
                    "b": "0",
                    "deadline": "realtime",
                    "cpu-used": "8",
                },
            )
            aus = out.add_stream("libopus", rate=RATE, layout="mono")
        else:
            vs = out.add_stream(
                "libx264", rate=fps, options={"crf": str(_crf(output_quality, 40, 16)), "preset": "veryfast"}
            )
            aus = out.add_stream("aac", rate=RATE, layout="mono")
        vs.width = in_video.codec_context.width
        vs.height = in_video.codec_context.height
        vs.pix_fmt = "yuv420p"
        for n, frame in enumerate(src.decode(in_video)):
            img = frame.to_image()
            if overlay_lines:
                _caption(ImageDraw.Draw(img, "RGBA"), overlay_lines)
            new = av.VideoFrame.from_image(img).reformat(format="yuv420p")
            new.pts = n
            new.time_base = 1 / Fraction(fps)
            for packet in vs.encode(new):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        encode_audio(out, aus, audio, RATE)
    tmp.replace(out_path)
    return RenderResult(
        path=out_path,
        duration=duration,
        audio_duration=length / RATE,
        output_format=fmt,
        width=vs.width,
        height=vs.height,
    )


def _caption(draw: Any, lines: Sequence[str]) -> None:
    height = 12 * len(lines) + 6
    width = 8 + 6 * max(len(line) for line in lines)
    draw.rectangle((2, 2, 2 + width, 2 + height), fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text((6, 5 + 12 * i), line, fill=(255, 255, 255, 255))


def encode_audio(out: Any, stream: Any, signal: np.ndarray, rate: int) -> None:
    """Encode mono float samples through ``stream`` in codec-sized frames, then flush it."""
    import av

    fifo = av.AudioFifo()
    frame = av.AudioFrame.from_ndarray(signal.reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    fifo.write(frame)
    size = stream.codec_context.frame_size or 960
    while fifo.samples > 0:
        chunk = fifo.read(min(size, fifo.samples), partial=True)
        if chunk is None:
            break
        for packet in stream.encode(chunk):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def make_contact_sheet(video_path: Path, png_path: Path, frames: int = 6, columns: int = 3) -> Path:
    """A PNG grid of ``frames`` evenly spaced frames, each labelled with its time."""
    import av
    from PIL import Image, ImageDraw

    info = probe_media(video_path)
    duration = info.video_duration or info.duration
    wanted = [duration * (i + 0.5) / frames for i in range(frames)]
    picked: list[tuple[float, Image.Image]] = []
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            if len(picked) < frames and t >= wanted[len(picked)]:
                picked.append((t, frame.to_image()))
    if not picked:
        raise ValueError(f"no frames in {video_path}")
    w, h = picked[0][1].size
    rows = (len(picked) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * w, rows * (h + 16)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for i, (t, img) in enumerate(picked):
        x, y = (i % columns) * w, (i // columns) * (h + 16)
        sheet.paste(img, (x, y + 16))
        draw.text((x + 4, y + 2), f"t = {t:.2f} s", fill=(255, 255, 255))
    png_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(png_path)
    return png_path
