"""sync-3's own request shape and the rules its Runware page states, enforced before any request."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import build_video_inference, validate_payload
from airflow_provider_sync.sync3 import Sync3Task

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def build(**kwargs: Any) -> dict[str, Any]:
    return build_video_inference(**{"model": "sync-3", "video": VIDEO, **kwargs}).to_payload()


def refused(**kwargs: Any) -> str:
    with pytest.raises(SyncValidationError) as err:
        build(**kwargs)
    return str(err.value)


def test_settings_and_speech_go_top_level_with_their_own_names() -> None:
    payload = build(
        speech={"text": "Hello there.", "voice": "v-1"},
        sync_mode="CUT_OFF",
        temperature="0.4",
        edit_region="Head",
        occlusion_detection_enabled="true",
        active_speaker_detection={"frame_number": 12, "coordinates": [640, 360]},
        tts={"stability": 0.5, "similarity_boost": 0.75},
        ttl=3600,
        safety={"check_content": True, "mode": "FAST"},
        output_format=" webm ",
    )
    assert payload == {
        "taskType": "videoInference",
        "model": "sync:3@0",
        "deliveryMethod": "async",
        "includeCost": True,
        "outputFormat": "WEBM",
        "ttl": 3600,
        "safety": {"checkContent": True, "mode": "fast"},
        "inputs": {"video": VIDEO},
        "speech": {"text": "Hello there.", "voice": "v-1"},
        "settings": {
            "syncMode": "cut_off",
            "temperature": 0.4,
            "mode": "head",
            "occlusionDetection": True,
            "activeSpeakerDetection": {"frameNumber": 12, "coordinates": [640, 360]},
            "tts": {"stability": 0.5, "similarityBoost": 0.75},
        },
    }
    assert "providerSettings" not in payload


def test_one_audio_source_is_a_string_in_inputs() -> None:
    assert build(audio="a-uuid")["inputs"] == {"video": VIDEO, "audio": "a-uuid"}
    # The older models' forms are read as the one source they hold.
    assert build(audio=[{"id": "x", "source": "a-uuid"}])["inputs"]["audio"] == "a-uuid"
    assert build(audio='["a-uuid"]')["inputs"]["audio"] == "a-uuid"


def test_segments_carry_their_own_audio() -> None:
    payload = build(
        segments=[
            {"start_time": 0, "end_time": 2.5, "audio": "a-1"},
            {"startTime": 2.5, "endTime": 5, "audio": "a-2", "audio_start_time": 1, "audio_end_time": 3.5},
        ]
    )
    assert payload["settings"]["segments"] == [
        {"startTime": 0, "endTime": 2.5, "audio": "a-1"},
        {"startTime": 2.5, "endTime": 5, "audio": "a-2", "audioStartTime": 1, "audioEndTime": 3.5},
    ]
    assert "audio" not in payload["inputs"]


@pytest.mark.parametrize(
    ("kwargs", "given"),
    [
        ({"audio": "a", "speech": {"text": "t", "voice": "v"}}, "audio (inputs.audio), speech (speech)"),
        (
            {"audio": "a", "segments": [{"start_time": 0, "end_time": 1, "audio": "b"}]},
            "audio (inputs.audio), segments (settings.segments)",
        ),
        (
            {
                "speech": {"text": "t", "voice": "v"},
                "segments": [{"start_time": 0, "end_time": 1, "audio": "b"}],
            },
            "speech (speech), segments (settings.segments)",
        ),
        ({}, "none of them"),
    ],
)
def test_exactly_one_of_audio_speech_and_segments(kwargs: dict[str, Any], given: str) -> None:
    message = refused(**kwargs)
    assert "exactly one of them" in message
    assert f"given: {given}" in message


@pytest.mark.parametrize(
    ("asd", "fragment"),
    [
        (
            {"bounding_boxes": [[1, 2, 30, 40], None], "coordinates": [5, 5], "frame_number": 0},
            "give boundingBoxes or coordinates + frameNumber, not both",
        ),
        ({"coordinates": [5, 5]}, "coordinates and frameNumber must be given together"),
        ({"frame_number": 3}, "coordinates and frameNumber must be given together"),
        ({}, "give autoDetect, coordinates + frameNumber, or boundingBoxes"),
        ({"coordinates": [0, 5], "frame_number": 1}, "greater than or equal to 1"),
        ({"bounding_boxes": [[1, 2, 3]]}, "boundingBoxes.0.3"),
        ({"auto_detect": True, "speaker": 2}, "unknown field"),
    ],
)
def test_active_speaker_detection_rules(asd: dict[str, Any], fragment: str) -> None:
    message = refused(audio="a", active_speaker_detection=asd)
    assert "active_speaker_detection" in message
    assert fragment in message


def test_active_speaker_detection_true_means_auto_detect_and_boxes_may_skip_frames() -> None:
    assert build(audio="a", active_speaker_detection="true")["settings"] == {
        "activeSpeakerDetection": {"autoDetect": True}
    }
    boxes = build(audio="a", active_speaker_detection={"bounding_boxes": [[1, 2, 30, 40], None]})
    assert boxes["settings"]["activeSpeakerDetection"] == {"boundingBoxes": [[1, 2, 30, 40], None]}


def test_tts_needs_speech() -> None:
    assert "tts (settings.tts): needs speech (speech)" in refused(audio="a", tts={"stability": 0.3})
    assert "tts.similarityBoost (settings.tts.similarityBoost)" in refused(
        speech={"text": "t", "voice": "v"}, tts={"similarity_boost": 2}
    )


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        (
            {"audio": "a", "sync_mode": "loop"},
            ["sync_mode (settings.syncMode)", "'loop' is not allowed", "'remap'"],
        ),
        ({"audio": "a", "edit_region": "body"}, ["edit_region (settings.mode)", "'lips', 'face' or 'head'"]),
        (
            {"audio": "a", "temperature": 1.5},
            ["temperature (settings.temperature)", "less than or equal to 1"],
        ),
        ({"audio": "a", "emotion_prompt": "happy"}, ["emotion_prompt", "not accepted by sync-3 (sync:3@0)"]),
        (
            {"segments": [{"start_time": 0, "end_time": 1, "ref": "a"}]},
            ["segments.0 (settings.segments.0)", "carry their own 'audio'"],
        ),
        (
            {"segments": [{"start_time": 0, "end_time": 1, "audio": "b", "audio_end_time": 1}]},
            ["segments.0", "audioStartTime and audioEndTime must be given together"],
        ),
        (
            {
                "segments": [
                    {"start_time": 0, "end_time": 2, "audio": "b"},
                    {"start_time": 1, "end_time": 3, "audio": "c"},
                ]
            },
            ["segments (settings.segments)", "overlap"],
        ),
        (
            {"speech": [{"id": "s", "provider": {"name": "elevenlabs", "voiceId": "v"}, "text": "t"}]},
            ["speech (speech)", "one {'text', 'voice'} object"],
        ),
        ({"audio": ["a", "b"]}, ["audio (inputs.audio)", "one audio source, not 2"]),
        ({"audio": "a", "ttl": 0}, ["ttl (ttl)", "greater than or equal to 1"]),
        (
            {"audio": "a", "safety": {"mode": "strict"}},
            ["safety.mode (safety.mode)", "'none', 'fast' or 'full'"],
        ),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(kwargs: dict[str, Any], fragments: list[str]) -> None:
    message = refused(**kwargs)
    for fragment in fragments:
        assert fragment in message


def test_settings_of_other_models_are_refused_naming_the_model() -> None:
    with pytest.raises(
        SyncValidationError, match=r"tts \(settings.tts\): not accepted by lipsync-2 \(sync:lipsync-2@1\)"
    ):
        build_video_inference(model="lipsync-2", video=VIDEO, audio="a", tts={"stability": 0.1})
    with pytest.raises(SyncValidationError, match=r"edit_region .*: not accepted by lipsync-2-pro"):
        build_video_inference(model="lipsync-2-pro", video=VIDEO, audio="a", edit_region="head")
    with pytest.raises(SyncValidationError, match=r"segments .*: not accepted by react-1 .*coming soon"):
        build_video_inference(
            model="react-1",
            video=VIDEO,
            audio="a",
            segments=[{"start_time": 0, "end_time": 1, "ref": "audio-1"}],
        )


def test_a_finished_request_is_checked_against_its_own_model() -> None:
    payload = build(audio="a")
    assert validate_payload(payload).model_dump(by_alias=True, exclude_none=True) == payload
    with pytest.raises(SyncValidationError, match="unknown field"):
        validate_payload({**payload, "providerSettings": {"sync": {"syncMode": "loop"}}})
    with pytest.raises(SyncValidationError, match=r"settings.*unknown field"):
        validate_payload({**payload, "model": "sync:lipsync-2@1", "settings": {"mode": "head"}})
    with pytest.raises(ValueError, match="does not take sync-3's request"):
        Sync3Task.model_validate({**payload, "model": "sync:lipsync-2@1"})
