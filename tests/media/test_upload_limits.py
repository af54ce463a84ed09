"""Upload size limits hold at their real values, before any request (files made sparse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import respx

from airflow_provider_sync import media
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from ..operators.conftest import FakeTI

URL = "http://limits.test/v1"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (``truncate``)."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def test_audio_one_byte_over_the_limit_fails_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {"conn_type": "runware", "host": URL, "password": "k"}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    voice = sparse(tmp_path / "voice.wav", media.MAX_UPLOAD_BYTES["audio"] + 1)
    op = SyncLipsyncOperator(task_id="t", video=VIDEO, audio=str(voice), poll_interval=0.01)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        with pytest.raises(SyncValidationError) as raised:
            op.execute({"ti": FakeTI()})
    assert route.call_count == 0
    assert len(mock.calls) == 0
    assert "audio[0].source" in str(raised.value)
    assert "the audio upload limit is 200 MiB" in str(raised.value)


def test_audio_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    voice = sparse(tmp_path / "voice.wav", media.MAX_UPLOAD_BYTES["audio"])
    found = media.inspect_local(str(voice), "audio", "audio")
    assert found.size == media.MAX_UPLOAD_BYTES["audio"]
    assert found.version.startswith(f"{found.size}:sha256:")


def test_a_video_over_its_limit_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = sparse(tmp_path / "clip.mp4", media.MAX_UPLOAD_BYTES["video"] + 1)
    opened: list[str] = []
    real_open = Path.open

    def spying_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spying_open)
    with pytest.raises(SyncValidationError, match="the video upload limit is 1024 MiB"):
        media.inspect_local(str(clip), "video", "video")
    assert opened == []  # a gigabyte is not hashed only to be refused
    # The audio limit is the smaller one: the same bytes as audio are refused too.
    audio = sparse(tmp_path / "big.wav", media.MAX_UPLOAD_BYTES["audio"] + 1)
    with pytest.raises(SyncValidationError, match="audio upload limit"):
        media.inspect_local(str(audio), "audio", "audio")
