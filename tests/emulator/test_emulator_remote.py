"""The emulator reaches the network the way Runware does, on loopback only: it fetches URL
inputs and PUTs the finished video to a task's ``uploadEndpoint``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.emulator.remote import is_loopback_url

from .loopback_store import AUDIO, VIDEO, Store

KEY = "emu-remote-key-41aa"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    media = tmp_path_factory.mktemp("remote-media")
    with EmulatorServer(api_keys=[KEY], render_seconds=0.1, output="metadata", media_dir=media) as s:
        yield s


def post(emu: EmulatorServer, tasks: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(emu.base_url, json=tasks, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)


def job(video: str, audio: str, **extra: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "sync:lipsync-2@1",
        "inputs": {"video": video, "audio": [{"id": "a", "source": audio}]},
        **extra,
    }


def wait_done(emu: EmulatorServer, task_uuid: str) -> dict[str, Any]:
    for _ in range(600):
        item = post(emu, [{"taskType": "getResponse", "taskUUID": task_uuid}]).json()["data"][0]
        if item["status"] != "processing":
            return dict(item)
        time.sleep(0.05)
    raise AssertionError("the job never ended")


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:9000/b/k", True),
        ("https://127.8.0.1/x", True),
        ("http://[::1]:80/x", True),
        ("http://localhost/x", True),
        ("https://bucket.s3.amazonaws.com/k?X-Amz-Signature=1", False),
        ("http://10.0.0.1/x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_only_loopback_urls_are_reached(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_url_inputs_are_fetched_and_the_video_is_put_to_the_upload_endpoint(
    emu: EmulatorServer, store: Store
) -> None:
    emu.admin.reset()
    task = job(
        f"{store.url}/in/clip.mp4?X-Amz-Signature=abc",
        f"{store.url}/in/voice.wav",
        uploadEndpoint=f"{store.url}/out/render.mp4?X-Amz-Signature=def",
    )
    assert post(emu, [task]).status_code == 200
    assert wait_done(emu, task["taskUUID"])["status"] == "success"
    assert sorted(store.gets) == sorted(["/in/clip.mp4?X-Amz-Signature=abc", "/in/voice.wav"])
    delivered = store.puts["/out/render.mp4"]
    stats = emu.admin.stats()
    assert stats["fetched_bytes"] == len(VIDEO) + len(AUDIO)
    assert stats["delivered_bytes"] == len(delivered) > 0


def test_a_refused_delivery_fails_the_job_with_upload_failed(emu: EmulatorServer, store: Store) -> None:
    emu.admin.reset()
    task = job(
        f"{store.url}/in/clip.mp4", f"{store.url}/in/voice.wav", uploadEndpoint=f"{store.url}/deny/x.mp4"
    )
    post(emu, [task])
    item = wait_done(emu, task["taskUUID"])
    assert (item["status"], item["error"]["code"]) == ("error", "uploadFailed")


def test_an_unreachable_input_fails_the_job_with_download_failed(emu: EmulatorServer, store: Store) -> None:
    emu.admin.reset()
    task = job(f"{store.url}/in/missing.mp4", f"{store.url}/in/voice.wav")
    post(emu, [task])
    item = wait_done(emu, task["taskUUID"])
    assert (item["status"], item["error"]["code"]) == ("error", "downloadFailed")


def test_an_upload_endpoint_off_this_machine_is_refused_at_submission(emu: EmulatorServer) -> None:
    emu.admin.reset()
    task = job(
        "c64351d5-4c59-42f7-95e1-eace013eddab",
        "b4c57832-2075-492b-bf89-9b5e3ac02503",
        uploadEndpoint="https://bucket.s3.amazonaws.com/out.mp4?X-Amz-Signature=1",
    )
    answer = post(emu, [task])
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["parameter"] == "uploadEndpoint"
    assert emu.admin.submissions() == []
