"""The testing kit's sample media: a talking-head clip and a voice of the length asked for."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from airflow_provider_sync.testing.emulator.render import audio_rms_profile, probe_media
from airflow_provider_sync.testing.samples import AUDIO_RATE, make_sample_audio, make_sample_video


@pytest.mark.parametrize(
    ("name", "video_codec", "audio_codec"),
    [("clip.mp4", "h264", "aac"), ("clip.mov", "h264", "aac"), ("clip.webm", "vp9", "opus")],
)
def test_the_video_has_the_length_and_codecs_asked_for(
    tmp_path: Path, name: str, video_codec: str, audio_codec: str
) -> None:
    out = make_sample_video(tmp_path / "nested" / name, 2.6)
    info = probe_media(out)
    assert (info.width, info.height) == (320, 240)
    assert (info.video_codec, info.audio_codec) == (video_codec, audio_codec)
    assert info.duration == pytest.approx(2.6, abs=0.05)
    assert not list(out.parent.glob(".*part*"))  # no temporary file left beside it


def test_the_mouth_moves_with_the_soundtrack(tmp_path: Path) -> None:
    import av

    out = make_sample_video(tmp_path / "clip.mp4", 3.0)
    mouths = []
    with av.open(str(out)) as container:
        for frame in container.decode(container.streams.video[0]):
            pixels = frame.to_ndarray(format="rgb24")
            # The mouth is drawn dark red around (160, 160) on the skin-coloured face.
            region = pixels[140:182, 130:190]
            mouths.append(int(((region[..., 0] > 90) & (region[..., 1] < 70)).sum()))
    assert len(mouths) == 75
    assert max(mouths) > 3 * max(1, min(mouths))  # open at loud moments, nearly shut in pauses


def test_the_wav_is_exactly_as_long_as_asked_and_sounds_like_syllables(tmp_path: Path) -> None:
    out = make_sample_audio(tmp_path / "voice.wav", 3.3)
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, AUDIO_RATE)
        assert w.getnframes() == round(3.3 * AUDIO_RATE)
    loudness = np.array(audio_rms_profile(out, window=0.05))
    # Syllables and pauses: loud windows and nearly silent ones, not a steady tone.
    assert loudness.max() > 0.1
    assert (loudness < 0.1 * loudness.max()).sum() >= 3
    assert (loudness > 0.5 * loudness.max()).sum() >= 3


def test_the_same_arguments_give_the_same_wav(tmp_path: Path) -> None:
    a = make_sample_audio(tmp_path / "a.wav", 1.5)
    b = make_sample_audio(tmp_path / "b.wav", 1.5)
    c = make_sample_audio(tmp_path / "c.wav", 1.5, pitch=200)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize(
    ("name", "codec"), [("voice.m4a", "aac"), ("voice.flac", "flac"), ("voice.ogg", "opus")]
)
def test_other_audio_formats_follow_the_suffix(tmp_path: Path, name: str, codec: str) -> None:
    info = probe_media(make_sample_audio(tmp_path / name, 2.0))
    assert (info.has_video, info.audio_codec) == (False, codec)
    assert info.duration == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), 3601])
def test_a_length_out_of_range_is_refused(tmp_path: Path, seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        make_sample_audio(tmp_path / "voice.wav", seconds)
    with pytest.raises(ValueError, match="seconds"):
        make_sample_video(tmp_path / "clip.mp4", seconds)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_suffix_names_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.mp4.*\.webm"):
        make_sample_video(tmp_path / "clip.avi", 1)
    with pytest.raises(ValueError, match=r"\.wav.*\.m4a"):
        make_sample_audio(tmp_path / "voice.aiff", 1)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_sync.testing.samples", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_writes_both_files_and_prints_their_paths(tmp_path: Path) -> None:
    video, audio = tmp_path / "in" / "clip.mp4", tmp_path / "in" / "voice.wav"
    proc = _cli("--video", str(video), "--audio", str(audio), "--seconds", "2", "--audio-seconds", "1.5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(video), str(audio)]
    assert probe_media(video).duration == pytest.approx(2.0, abs=0.05)
    assert probe_media(audio).duration == pytest.approx(1.5, abs=0.01)


def test_the_cli_says_what_is_wrong(tmp_path: Path) -> None:
    nothing = _cli("--seconds", "2")
    assert nothing.returncode == 2
    assert "--video" in nothing.stderr
    assert "--audio" in nothing.stderr
    bad = _cli("--audio", str(tmp_path / "voice.aiff"))
    assert bad.returncode == 2
    assert ".wav" in bad.stderr
    assert "Traceback" not in bad.stderr
