"""Sample media made at first use (never downloaded): a talking-head-like clip, two voices.

The clip is a drawn face whose mouth opens with its own soundtrack, with a timecode, so a
viewer can tell frames apart; the two audio clips have different lengths (shorter and
longer than the clip) so every sync mode has something to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airflow_provider_sync.testing.emulator.synth import text_envelope, voice_signal, write_wav

VIDEO_SECONDS = 6.0
FPS = 25
SIZE = (320, 240)
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
    import av
    from PIL import Image, ImageDraw

    from airflow_provider_sync.testing.emulator.render import encode_audio

    rate = 48000
    script = "Good evening. Here is the news, read by a test pattern with a face."
    env = text_envelope(script, rate)
    n = int(VIDEO_SECONDS * rate)
    env = np.pad(env, (0, max(0, n - len(env))))[:n]
    voice = voice_signal(env, rate, 120.0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with av.open(str(tmp), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "veryfast"})
        vs.width, vs.height = SIZE
        vs.pix_fmt = "yuv420p"
        aus = out.add_stream("aac", rate=rate, layout="mono")
        w, h = SIZE
        for i in range(int(VIDEO_SECONDS * FPS)):
            t = i / FPS
            opening = float(env[min(n - 1, int(t * rate)) : min(n, int((t + 1 / FPS) * rate))].mean() or 0)
            img = Image.new("RGB", SIZE, (40 + i % 50, 60, 90))
            d = ImageDraw.Draw(img)
            d.ellipse((w / 2 - 70, 30, w / 2 + 70, 210), fill=(230, 190, 160))
            d.ellipse((w / 2 - 40, 90, w / 2 - 20, 105), fill=(40, 40, 40))
            d.ellipse((w / 2 + 20, 90, w / 2 + 40, 105), fill=(40, 40, 40))
            mouth = 2 + 22 * opening
            d.ellipse((w / 2 - 25, 160 - mouth / 2, w / 2 + 25, 160 + mouth / 2), fill=(120, 30, 40))
            d.text((6, h - 16), f"{t:05.2f}s  frame {i}", fill=(255, 255, 255))
            frame = av.VideoFrame.from_ndarray(np.asarray(img), format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        encode_audio(out, aus, voice, rate)
    tmp.replace(path)
