"""Sample input media for tests and trials: a talking-head clip and a voice-like audio.

Both are generated on the spot (nothing is downloaded) and have the length you ask for:

* :func:`make_sample_video`: a drawn face whose mouth opens with its own soundtrack, with a
  timecode in the corner so frames can be told apart (MP4 or MOV: H.264 + AAC; WEBM: VP9 +
  Opus);
* :func:`make_sample_audio`: a synthetic voice-like signal (syllable-shaped loudness and a
  drifting pitch; **not speech**), as WAV, or FLAC, M4A (AAC), OGG/OPUS (Opus) or MP3 when
  the bundled FFmpeg has the encoder.

They need the ``testing`` extra (PyAV, numpy, Pillow). From the command line::

    python -m airflow_provider_sync.testing.samples --video clip.mp4 --audio voice.wav --seconds 5

The emulator reads these files only when it renders real video (``output="render"``); in its
fast ``metadata`` mode it stores what is uploaded without reading it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Frame size and rate of the sample video.
VIDEO_SIZE = (320, 240)
VIDEO_FPS = 25
#: Sample rate of the sample audio (and of the video's soundtrack).
AUDIO_RATE = 24000
#: What the voice "reads": only its rhythm is heard (letter runs become syllables).
SCRIPT = (
    "Good evening. Here is the news, read by a test pattern with a face. "
    "The weather stays mild, the trains run on time, and every clip has a voice. "
)
#: Longest sample accepted (one hour): a typo such as 5000 should not fill a disk.
MAX_SECONDS = 3600.0

_VIDEO_CODECS = {".mp4": ("mp4", "libx264", "aac"), ".mov": ("mov", "libx264", "aac")}
_VIDEO_CODECS[".webm"] = ("webm", "libvpx-vp9", "libopus")
_VIDEO_OPTIONS = {
    "libx264": {"crf": "23", "preset": "veryfast"},
    # VP9 is slow at its default settings: real-time speed is plenty for a test clip.
    "libvpx-vp9": {"crf": "40", "b": "0", "deadline": "realtime", "cpu-used": "8"},
}
_AUDIO_CODECS = {
    ".flac": ("flac", "flac"),
    ".m4a": ("ipod", "aac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".ogg": ("ogg", "libopus"),
    ".opus": ("opus", "libopus"),
}


def _check_seconds(seconds: float) -> float:
    value = float(seconds)
    if not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS:g}; got {seconds!r}")
    return value


def voice(seconds: float, sample_rate: int = AUDIO_RATE, pitch: float = 140.0) -> np.ndarray:
    """``seconds`` of the voice-like signal as mono float32 samples in -1..1.

    :param pitch: the voice's base pitch in Hz (95 to 225 sound like low to high voices).
    """
    from airflow_provider_sync.testing.emulator.synth import SECONDS_PER_CHAR, text_envelope, voice_signal

    n = round(_check_seconds(seconds) * sample_rate)
    text = SCRIPT * (1 + int(seconds / (SECONDS_PER_CHAR * len(SCRIPT))))
    envelope = text_envelope(text, sample_rate)[:n]
    envelope = np.pad(envelope, (0, n - len(envelope)))
    # The cut may fall inside a syllable: fade the last 20 ms so the clip ends without a click.
    fade = min(n, sample_rate // 50)
    envelope[n - fade :] *= np.linspace(1.0, 0.0, fade)
    return voice_signal(envelope, sample_rate, pitch)


def make_sample_audio(path: str | os.PathLike[str], seconds: float = 4.0, *, pitch: float = 140.0) -> Path:
    """Write ``seconds`` of a voice-like audio to ``path``; the format follows its suffix.

    ``.wav`` (16-bit PCM, mono, 24 kHz) always works; ``.flac``, ``.m4a``, ``.ogg``,
    ``.opus`` and ``.mp3`` are encoded with PyAV's FFmpeg. The same arguments give the same
    WAV bytes. Parent folders are created.

    :param pitch: the voice's base pitch in Hz, to tell two voices apart.
    :returns: ``path``.
    :raises ValueError: for an unknown suffix or a length outside 0 to 3600 s.
    """
    from airflow_provider_sync.testing.emulator.synth import write_wav

    out = Path(path)
    suffix = out.suffix.lower()
    if suffix != ".wav" and suffix not in _AUDIO_CODECS:
        raise ValueError(f"audio suffix {out.suffix!r}; allowed: .wav, {', '.join(_AUDIO_CODECS)}")
    signal = voice(seconds, AUDIO_RATE, pitch)
    if suffix == ".wav":
        write_wav(signal, AUDIO_RATE, out)
        return out
    import av

    from airflow_provider_sync.testing.emulator.render import encode_audio

    container, codec = _AUDIO_CODECS[suffix]
    # Opus only takes 48 kHz among the rates we might use; the others keep the voice's rate.
    rate = 48000 if codec == "libopus" else AUDIO_RATE
    if rate != AUDIO_RATE:
        signal = voice(seconds, rate, pitch)
    tmp = _partial(out)
    try:
        with av.open(str(tmp), "w", format=container) as dest:
            stream = dest.add_stream(codec, rate=rate, layout="mono")
            encode_audio(dest, stream, signal, rate)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def make_sample_video(path: str | os.PathLike[str], seconds: float = 5.0) -> Path:
    """Write a ``seconds`` long talking-head clip with its own voice to ``path``.

    320x240 at 25 frames per second; ``.mp4`` and ``.mov`` hold H.264 + AAC, ``.webm`` VP9 +
    Opus. The mouth opens with the soundtrack's loudness, and each frame shows its time and
    number. Parent folders are created; the file appears whole or not at all.

    :returns: ``path``.
    :raises ValueError: for an unknown suffix or a length outside 0 to 3600 s.
    """
    import av
    from PIL import Image, ImageDraw

    from airflow_provider_sync.testing.emulator.render import encode_audio

    out = Path(path)
    if out.suffix.lower() not in _VIDEO_CODECS:
        raise ValueError(f"video suffix {out.suffix!r}; allowed: {', '.join(_VIDEO_CODECS)}")
    container, video_codec, audio_codec = _VIDEO_CODECS[out.suffix.lower()]
    seconds = _check_seconds(seconds)
    rate = 48000
    soundtrack = voice(seconds, rate, pitch=120.0)
    loudness = np.abs(soundtrack)
    frames = max(1, round(seconds * VIDEO_FPS))
    per_frame = rate / VIDEO_FPS
    peak = float(loudness.max()) or 1.0
    width, height = VIDEO_SIZE
    tmp = _partial(out)
    try:
        with av.open(str(tmp), "w", format=container) as dest:
            options = _VIDEO_OPTIONS[video_codec]
            vs = dest.add_stream(video_codec, rate=VIDEO_FPS, options=options)
            vs.width, vs.height = VIDEO_SIZE
            vs.pix_fmt = "yuv420p"
            aus = dest.add_stream(audio_codec, rate=rate, layout="mono")
            for i in range(frames):
                window = loudness[int(i * per_frame) : int((i + 1) * per_frame)]
                opening = float(window.mean() / peak) * 2 if len(window) else 0.0
                image = Image.new("RGB", VIDEO_SIZE, (40 + i % 50, 60, 90))
                draw = ImageDraw.Draw(image)
                draw.ellipse((width / 2 - 70, 30, width / 2 + 70, 210), fill=(230, 190, 160))
                draw.ellipse((width / 2 - 40, 90, width / 2 - 20, 105), fill=(40, 40, 40))
                draw.ellipse((width / 2 + 20, 90, width / 2 + 40, 105), fill=(40, 40, 40))
                mouth = 2 + 22 * min(1.0, opening)
                draw.ellipse(
                    (width / 2 - 25, 160 - mouth / 2, width / 2 + 25, 160 + mouth / 2), fill=(120, 30, 40)
                )
                draw.text((6, height - 16), f"{i / VIDEO_FPS:05.2f}s  frame {i}", fill=(255, 255, 255))
                frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
                for packet in vs.encode(frame):
                    dest.mux(packet)
            for packet in vs.encode():
                dest.mux(packet)
            encode_audio(dest, aus, soundtrack, rate)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _partial(out: Path) -> Path:
    """A temporary name beside ``out`` with the same suffix (FFmpeg picks muxers by it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.stem}.{os.getpid()}.part{out.suffix}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m airflow_provider_sync.testing.samples``: write sample media, print the paths."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_sync.testing.samples",
        description="Write a sample talking-head video and/or a voice-like audio of a given length.",
    )
    parser.add_argument("--video", type=Path, help="video to write (.mp4, .mov or .webm)")
    parser.add_argument("--audio", type=Path, help="audio to write (.wav, .flac, .m4a, .ogg, .opus, .mp3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of both (default 5)")
    parser.add_argument("--audio-seconds", type=float, help="length of the audio, if not --seconds")
    parser.add_argument("--pitch", type=float, default=140.0, help="the audio voice's pitch in Hz")
    args = parser.parse_args(argv)
    if args.video is None and args.audio is None:
        parser.error("give --video PATH, --audio PATH or both")
    try:
        if args.video is not None:
            print(make_sample_video(args.video, args.seconds))
        if args.audio is not None:
            seconds = args.audio_seconds if args.audio_seconds is not None else args.seconds
            print(make_sample_audio(args.audio, seconds, pitch=args.pitch))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
