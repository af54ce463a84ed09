"""A job that fails on its input names the input as the client sent it (a media UUID, a URL),
never the emulator's own copy of it: Runware's answer knows nothing of its disk."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("av", reason="the testing extra (PyAV) is not installed")

from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.samples import make_sample_audio, make_sample_video

KEY = "emu-errors-key-5b1e"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    media = tmp_path_factory.mktemp("emulator-media")
    with EmulatorServer(api_keys=[KEY], render_seconds=0.1, output="render", media_dir=media) as s:
        yield s


def _post(server: EmulatorServer, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    resp = httpx.post(server.base_url, json=tasks, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    body: dict[str, Any] = resp.json()
    return body


def _upload(server: EmulatorServer, data: bytes, mime: str) -> str:
    media = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "upload", "media": media}
    [item] = _post(server, [task])["data"]
    return str(item["mediaUUID"])


def _job_error(server: EmulatorServer, video: str, audio: str) -> dict[str, Any]:
    task_uuid = str(uuid.uuid4())
    task = {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "model": "sync:lipsync-2@1",
        "deliveryMethod": "async",
        "inputs": {"video": video, "audio": [{"id": "a", "source": audio}]},
    }
    assert _post(server, [task])["data"][0]["status"] == "processing"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [item] = _post(server, [{"taskType": "getResponse", "taskUUID": task_uuid}])["data"]
        if item["status"] != "processing":
            assert item["status"] == "error", item
            error: dict[str, Any] = item["error"]
            return error
        time.sleep(0.1)
    raise AssertionError("the job never ended")


def _emulator_paths(server: EmulatorServer, text: str) -> list[str]:
    media_dir = server.admin.health()["config"]["media_dir"]
    return [part for part in (media_dir, "uploads/", "/tmp/") if part in text]


@pytest.fixture(scope="module")
def good_video(server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = make_sample_video(tmp_path_factory.mktemp("in") / "clip.mp4", 1.0)
    return _upload(server, path.read_bytes(), "video/mp4")


def test_an_unreadable_uploaded_audio_is_named_by_its_media_uuid(
    server: EmulatorServer, good_video: str
) -> None:
    audio = _upload(server, b"RIFF" + b"not really a wave file" * 100, "audio/wav")
    error = _job_error(server, good_video, audio)
    assert error["code"] == "processingFailed"
    assert f"audio input {audio}" in error["message"]
    assert _emulator_paths(server, error["message"]) == []


def test_an_unreadable_video_url_is_named_by_its_url(server: EmulatorServer, tmp_path: Path) -> None:
    audio = _upload(server, make_sample_audio(tmp_path / "voice.wav", 1.0).read_bytes(), "audio/wav")
    url = f"{server.base_url.removesuffix('/v1')}/media/{audio}.wav"  # an audio file, as the video
    error = _job_error(server, url, audio)
    assert error["code"] == "processingFailed"
    assert f"video input {url} has no video stream" in error["message"]
    assert _emulator_paths(server, error["message"].replace(url, "")) == []


def test_a_crash_while_rendering_names_no_emulator_file(
    server: EmulatorServer, good_video: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow_provider_sync.testing.emulator.render as render

    def failing_render(*, video_path: Path, audio_tracks: dict[str, Path], out_path: Path, **_: Any) -> None:
        raise OSError(f"cannot encode {out_path} from {video_path} and {next(iter(audio_tracks.values()))}")

    monkeypatch.setattr(render, "render_sync_output", failing_render)
    audio = _upload(server, make_sample_audio(tmp_path / "voice.wav", 1.0).read_bytes(), "audio/wav")
    error = _job_error(server, good_video, audio)
    assert error["code"] == "processingFailed"
    assert f"from {good_video} and {audio}" in error["message"]  # the inputs, by their UUIDs
    assert "<emulator file>" in error["message"]  # the output being written
    assert _emulator_paths(server, error["message"]) == []
