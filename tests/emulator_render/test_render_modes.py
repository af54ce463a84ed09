"""Rendered files read back: lengths, and where the audio is silent, looped, bounced or remapped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="the [emulator] extra (PyAV) is not installed")

from airflow_provider_sync.testing.emulator.render import (
    audio_rms_profile,
    decode_audio,
    make_contact_sheet,
    probe_media,
    render_sync_output,
)
from airflow_provider_sync.testing.emulator.samples import Samples, ensure_samples
from airflow_provider_sync.testing.emulator.synth import speech_duration, synthesize_speech

RATE = 16000
VIDEO = 6.0


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return ensure_samples(tmp_path_factory.mktemp("samples"))


def render(samples: Samples, out: Path, audio: Path, mode: str = "bounce", **kw: object) -> np.ndarray:
    result = render_sync_output(
        video_path=samples.video, audio_tracks={"a": audio}, sync_mode=mode, out_path=out, **kw
    )  # type: ignore[arg-type]
    info = probe_media(result.path)
    assert info.video_duration == pytest.approx(VIDEO, abs=0.1)
    assert info.audio_duration == pytest.approx(VIDEO, abs=0.1)
    return decode_audio(result.path, RATE)


def similarity(a: np.ndarray, b: np.ndarray, max_lag: int = 800) -> float:
    """Best normalised correlation of two equal-length signals within +-50 ms (codec delay)."""
    best = 0.0
    n = min(len(a), len(b)) - max_lag
    for lag in range(-max_lag, max_lag + 1, 8):
        x = a[max_lag : max_lag + n]
        y = b[max_lag + lag : max_lag + lag + n]
        if len(y) < n:
            continue
        denom = float(np.linalg.norm(x) * np.linalg.norm(y)) or 1.0
        best = max(best, float(np.dot(x, y)) / denom)
    return best


def seconds(signal: np.ndarray, start: float, end: float) -> np.ndarray:
    return signal[round(start * RATE) : round(end * RATE)]


def envelope(signal: np.ndarray, window: float = 0.05) -> np.ndarray:
    step = round(window * RATE)
    usable = len(signal) // step * step
    return np.sqrt(np.mean(signal[:usable].reshape(-1, step) ** 2, axis=1))


def loud(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0


@pytest.fixture(scope="module")
def short(samples: Samples) -> tuple[Path, np.ndarray, float]:
    audio = decode_audio(samples.audio[0], RATE)
    return samples.audio[0], audio, len(audio) / RATE


def test_the_samples_have_the_lengths_the_modes_need(samples: Samples) -> None:
    assert probe_media(samples.video).duration == pytest.approx(VIDEO, abs=0.05)
    lengths = [probe_media(p).duration for p in samples.audio]
    assert lengths[0] < VIDEO - 1 < VIDEO + 1 < lengths[1]


@pytest.mark.parametrize("mode", ["silence", "cut_off"])
def test_short_audio_then_silence(
    samples: Samples, short: tuple[Path, np.ndarray, float], tmp_path: Path, mode: str
) -> None:
    path, audio, length = short
    out = render(samples, tmp_path / f"{mode}.mp4", path, mode)
    assert similarity(seconds(out, 0, length - 0.1), seconds(audio, 0, length - 0.1)) > 0.9
    assert loud(seconds(out, length + 0.1, VIDEO - 0.05)) < 0.002
    assert loud(seconds(out, 0, length)) > 0.05


def test_loop_starts_the_audio_again(
    samples: Samples, short: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    path, audio, length = short
    out = render(samples, tmp_path / "loop.mp4", path, "loop")
    again = seconds(out, length, VIDEO - 0.05)
    assert similarity(again, audio[: len(again)]) > 0.9
    assert loud(again) > 0.05


def test_bounce_plays_the_audio_backwards_after_its_end(
    samples: Samples, short: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    path, audio, length = short
    out = render(samples, tmp_path / "bounce.mp4", path, "bounce")
    back = seconds(out, length, VIDEO - 0.05)
    reversed_audio = audio[::-1][: len(back)]
    assert similarity(back, reversed_audio) > 0.9
    assert similarity(back, audio[: len(back)]) < 0.5  # not a loop


def test_remap_stretches_the_audio_over_the_whole_video(
    samples: Samples, short: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    path, audio, _ = short
    out = render(samples, tmp_path / "remap.mp4", path, "remap")[: round(VIDEO * RATE)]
    stretched = np.interp(np.linspace(0, 1, round(VIDEO * RATE)), np.linspace(0, 1, len(audio)), audio)
    # Compare loudness envelopes: robust to the codec's sub-millisecond timing differences.
    assert np.corrcoef(envelope(out), envelope(stretched))[0, 1] > 0.9
    assert np.corrcoef(envelope(out), envelope(np.pad(audio, (0, len(out) - len(audio)))))[0, 1] < 0.6
    profile = audio_rms_profile(tmp_path / "remap.mp4", window=0.5)
    assert max(profile[-3:]) > 0.05  # no silent tail: the voice runs to the end


def test_long_audio_is_cut_at_the_video_end(samples: Samples, tmp_path: Path) -> None:
    audio = decode_audio(samples.audio[1], RATE)
    for mode in ("cut_off", "bounce", "loop", "silence"):
        out = render(samples, tmp_path / f"long-{mode}.mp4", samples.audio[1], mode)
        assert similarity(seconds(out, 0, VIDEO - 0.1), seconds(audio, 0, VIDEO - 0.1)) > 0.9, mode


def test_segments_place_cropped_audio_and_leave_the_rest_silent(samples: Samples, tmp_path: Path) -> None:
    a = decode_audio(samples.audio[0], RATE)
    b = decode_audio(samples.audio[1], RATE)
    segments = [
        {"startTime": 0.5, "endTime": 2.0, "ref": "a"},
        {"startTime": 3.0, "endTime": 5.0, "ref": "b", "audioStartTime": 4.0, "audioEndTime": 6.0},
    ]
    result = render_sync_output(
        video_path=samples.video,
        audio_tracks={"a": samples.audio[0], "b": samples.audio[1]},
        segments=segments,
        out_path=tmp_path / "segments.mov",
        output_format="MOV",
    )
    out = decode_audio(result.path, RATE)
    assert probe_media(result.path).audio_duration == pytest.approx(VIDEO, abs=0.1)
    for start, end in [(0.0, 0.45), (2.1, 2.9), (5.1, VIDEO - 0.05)]:
        assert loud(seconds(out, start, end)) < 0.002, (start, end)
    assert similarity(seconds(out, 0.5, 2.0), seconds(a, 0.0, 1.5)) > 0.9
    assert similarity(seconds(out, 3.0, 5.0), seconds(b, 4.0, 6.0)) > 0.9
    assert similarity(seconds(out, 3.0, 5.0), seconds(b, 0.0, 2.0)) < 0.5  # the crop was applied


@pytest.mark.parametrize(
    ("fmt", "video", "audio"), [("MP4", "h264", "aac"), ("MOV", "h264", "aac"), ("WEBM", "vp9", "opus")]
)
def test_each_output_format_is_a_playable_file(
    samples: Samples, tmp_path: Path, fmt: str, video: str, audio: str
) -> None:
    out = tmp_path / f"clip.{fmt.lower()}"
    render_sync_output(
        video_path=samples.video,
        audio_tracks={"a": samples.audio[0]},
        output_format=fmt,
        output_quality=60,
        overlay_lines=["sync:react-1@1", "emotion: happy"],
        out_path=out,
    )
    info = probe_media(out)
    assert (info.video_codec, info.audio_codec) == (video, audio)
    assert info.duration == pytest.approx(VIDEO, abs=0.1)
    assert (info.width, info.height) == (320, 240)
    assert not list(tmp_path.glob(".*part*"))  # written atomically


def test_synthetic_speech_follows_the_text(tmp_path: Path) -> None:
    text = "Welcome to our presentation about artificial intelligence."
    one = synthesize_speech(text, "voice-a", tmp_path / "one.wav")
    two = synthesize_speech(text, "voice-a", tmp_path / "two.wav")
    other = synthesize_speech(text, "voice-b", tmp_path / "other.wav")
    assert one.read_bytes() == two.read_bytes()
    assert one.read_bytes() != other.read_bytes()
    assert probe_media(one).duration == pytest.approx(speech_duration(text), abs=0.01)
    longer = synthesize_speech(text * 2, "voice-a", tmp_path / "long.wav")
    assert probe_media(longer).duration > 1.9 * probe_media(one).duration
    profile = audio_rms_profile(one, window=0.05)
    assert max(profile) > 0.1
    assert min(profile) < 0.01  # pauses between words


def test_contact_sheet(samples: Samples, tmp_path: Path) -> None:
    from PIL import Image

    sheet = make_contact_sheet(samples.video, tmp_path / "sheet.png", frames=6, columns=3)
    with Image.open(sheet) as img:
        assert img.format == "PNG"
        assert img.size == (3 * 320, 2 * (240 + 16))
