"""The emulator takes sync-3's request as Runware's page states it, refuses what the page
forbids, and renders a labelled video for it; the older models keep their own shape."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.emulator.output import overlay_lines
from airflow_provider_sync.testing.emulator.validation import validate_task

from ..dag_fixtures import fresh

KEY = "emu-sync3-key-7a21"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def sync3(**extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "sync:3@0",
        "deliveryMethod": "async",
        "includeCost": True,
        "inputs": {"video": VIDEO, "audio": AUDIO},
    }
    for key, value in extra.items():
        if value is None:
            task.pop(key, None)
        else:
            task[key] = value
    return task


def problems(task: dict[str, Any]) -> dict[str, str]:
    return {str(e["parameter"]): str(e["message"]) for e in validate_task(task)}


def test_the_pages_request_is_accepted() -> None:
    full = sync3(
        settings={
            "syncMode": "cut_off",
            "temperature": 0.4,
            "mode": "head",
            "occlusionDetection": True,
            "activeSpeakerDetection": {"frameNumber": 0, "coordinates": [320, 180], "autoDetect": False},
        },
        outputFormat="WEBM",
        outputQuality=80,
        ttl=3600,
        safety={"checkContent": True, "mode": "fast"},
    )
    assert problems(full) == {}
    speech = sync3(
        inputs={"video": VIDEO},
        speech={"text": "Hello.", "voice": "v-1"},
        settings={"tts": {"stability": 0.5, "similarityBoost": 0.7}},
    )
    assert problems(speech) == {}
    segments = sync3(
        inputs={"video": VIDEO},
        settings={
            "segments": [
                {"startTime": 0, "endTime": 2, "audio": AUDIO},
                {"startTime": 2, "endTime": 4, "audio": AUDIO, "audioStartTime": 1, "audioEndTime": 3},
            ],
            "activeSpeakerDetection": {"boundingBoxes": [[1, 2, 30, 40], None]},
        },
    )
    assert problems(segments) == {}
    assert problems(sync3(model="sync:lipsync@3")) == {}


@pytest.mark.parametrize(
    ("task", "parameter", "fragment"),
    [
        (sync3(speech={"text": "t", "voice": "v"}), "inputs.audio", "exactly one of"),
        (sync3(inputs={"video": VIDEO}), "inputs.audio", "exactly one of"),
        (
            sync3(settings={"segments": [{"startTime": 0, "endTime": 1, "audio": AUDIO}]}),
            "inputs.audio",
            "given: inputs.audio, settings.segments",
        ),
        (sync3(settings={"tts": {"stability": 0.5}}), "speech", "speech is required"),
        (
            sync3(
                settings={
                    "activeSpeakerDetection": {
                        "boundingBoxes": [None],
                        "coordinates": [1, 1],
                        "frameNumber": 0,
                    }
                }
            ),
            "settings.activeSpeakerDetection.boundingBoxes",
            "cannot be used with coordinates",
        ),
        (
            sync3(settings={"activeSpeakerDetection": {"coordinates": [1, 1]}}),
            "settings.activeSpeakerDetection.coordinates",
            "must be used together",
        ),
        (
            sync3(
                inputs={"video": VIDEO},
                settings={"segments": [{"startTime": 0, "endTime": 1, "audio": AUDIO, "audioStartTime": 0}]},
            ),
            "settings.segments[0].audioStartTime",
            "go together",
        ),
        (sync3(settings={"syncMode": "loop"}), "settings.syncMode", "not allowed"),
        (sync3(settings={"temperature": 2}), "settings.temperature", "0..1"),
        (sync3(settings={"editRegion": "head"}), "settings.editRegion", "sync-3 does not accept"),
        (sync3(providerSettings={"sync": {"syncMode": "bounce"}}), "providerSettings", "not a parameter"),
        (sync3(inputs={"video": VIDEO, "audio": [{"id": "a", "source": AUDIO}]}), "inputs.audio", "a string"),
        (sync3(speech={"text": "t"}, inputs={"video": VIDEO}), "speech", "text and voice"),
        (sync3(safety={"mode": "paranoid"}), "safety.mode", "not allowed"),
    ],
)
def test_what_the_page_forbids_is_refused_naming_the_parameter(
    task: dict[str, Any], parameter: str, fragment: str
) -> None:
    found = problems(task)
    assert parameter in found, found
    assert fragment in found[parameter]


def test_the_older_models_do_not_take_sync3s_fields() -> None:
    older = sync3(model="sync:lipsync-2@1", inputs={"video": VIDEO, "audio": [{"id": "a", "source": AUDIO}]})
    assert problems(older) == {}
    assert "settings" in problems({**older, "settings": {"mode": "head"}})
    assert "speech" in problems({**older, "speech": {"text": "t", "voice": "v"}})


def test_the_label_names_the_model_and_each_setting() -> None:
    lines = overlay_lines(
        sync3(
            settings={
                "syncMode": "silence",
                "mode": "head",
                "temperature": 0.3,
                "occlusionDetection": True,
                "activeSpeakerDetection": {"autoDetect": True},
            }
        )
    )
    assert lines[0] == "sync:3@0 (emulated)"
    for expected in (
        "syncMode: silence",
        "mode: head",
        "temperature: 0.3",
        "occlusionDetection: True",
        "activeSpeakerDetection: autoDetect=True",
    ):
        assert expected in lines
    speech = overlay_lines(sync3(inputs={"video": VIDEO}, speech={"text": "t", "voice": "anna"}))
    assert "syncMode: cut_off" in speech
    assert "speech voice: anna" in speech


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=[KEY], render_seconds=0.2, seed=3) as s:
        yield s


def run(emu: EmulatorServer, task: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {KEY}"}
    ack = httpx.post(emu.base_url, json=[task], headers=headers, timeout=10)
    assert ack.status_code == 200, ack.text
    poll = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]

    # Bounded by a count of polls, not by the clock: the render finishes when the CPU lets it.
    for _ in range(600):
        item: dict[str, Any] = httpx.post(emu.base_url, json=poll, headers=headers, timeout=10).json()[
            "data"
        ][0]
        if item["status"] != "processing":
            return item
        time.sleep(0.1)
    raise AssertionError(f"job {task['taskUUID']} still processing after 600 polls")


@pytest.mark.parametrize(
    "extra",
    [
        {"settings": {"syncMode": "remap", "mode": "lips"}},
        {"inputs": {"video": VIDEO}, "speech": {"text": "Bonjour a tous.", "voice": "v-fr"}},
        {
            "inputs": {"video": VIDEO},
            "settings": {"segments": [{"startTime": 0.5, "endTime": 2.0, "audio": AUDIO}]},
        },
    ],
    ids=["audio", "speech", "segments"],
)
def test_sync3_renders_a_real_video_billed_by_its_audio(
    server: EmulatorServer, tmp_path: Path, extra: dict[str, Any]
) -> None:
    from airflow_provider_sync.testing.emulator.render import probe_media

    fresh(server)
    result = run(server, sync3(**extra))
    assert result["status"] == "success"
    assert result["cost"] > 0
    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(result["videoURL"], timeout=30).content)
    info = probe_media(video)
    assert info.has_video
    assert info.has_audio
    if "segments" in extra.get("settings", {}):
        # Segments bill their own seconds (1.5 s here) at sync-3's price.
        assert result["cost"] == pytest.approx(round(1.5 * 0.133, 4))
