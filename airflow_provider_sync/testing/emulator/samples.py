"""The emulator's stand-in media, made at first use (never downloaded): a clip, two voices.

The clip is :func:`airflow_provider_sync.testing.samples.make_sample_video`'s talking head;
the two audio clips have different lengths (shorter and longer than the clip) so every sync
mode has something to do. Users make their own with :mod:`airflow_provider_sync.testing.samples`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airflow_provider_sync.testing.emulator.synth import text_envelope, voice_signal, write_wav

VIDEO_SECONDS = 6.0
AUDIO_RATE = 24000
_SCRIPTS = {
    "voice-short.wav": ("Hello there, this is a short line, shorter than the clip.", 140.0),
    "voice-long.wav": (
        "And this one is longer: it keeps going and going, well past the end of the picture, "
        "so the render has to cut it or squeeze it in.",
        180.0,
    ),
}


@dataclass(frozen=True)
class Samples:
    """Paths of the generated sample media."""

    video: Path
    audio: list[Path]


def ensure_samples(cache_dir: Path) -> Samples:
    """Make the samples under ``cache_dir`` unless they are there already."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    audio = []
    for name, (script, pitch) in _SCRIPTS.items():
        path = cache_dir / name
        if not path.exists():
            signal = voice_signal(text_envelope(script, AUDIO_RATE), AUDIO_RATE, pitch)
            write_wav(signal, AUDIO_RATE, path)
        audio.append(path)
    video = cache_dir / "talking-head.mp4"
    if not video.exists():
        _make_video(video)
    return Samples(video=video, audio=audio)


def _make_video(path: Path) -> None:
    from airflow_provider_sync.testing.samples import make_sample_video

    make_sample_video(path, VIDEO_SECONDS)
