"""Request models: model names, what is sent and what is not, tolerant input, precise errors."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import SYNC_MODELS, build_video_inference, parse_flag, resolve_model

BASE: dict[str, Any] = {"video": "v-uuid", "audio": "a-uuid"}


def build(**kwargs: Any) -> dict[str, Any]:
    return build_video_inference(**{"model": "lipsync-2", **BASE, **kwargs}).to_payload()


@pytest.mark.parametrize(
    ("name", "air_id"),
    [
        ("lipsync-2", "sync:lipsync-2@1"),
        ("LipSync-2-Pro", "sync:lipsync-2-pro@1"),
        ("react-1", "sync:react-1@1"),
        ("sync:react-1@1", "sync:react-1@1"),
        (" lipsync-2 ", "sync:lipsync-2@1"),
        ("sync-3", "sync:3@0"),
        ("sync:3@0", "sync:3@0"),
        # The id Runware's client registries of mid-2026 listed; sent as the page's id.
        ("sync:lipsync@3", "sync:3@0"),
    ],
)
def test_short_names_and_air_ids(name: str, air_id: str) -> None:
    assert resolve_model(name).air_id == air_id


def test_one_table_says_what_each_model_accepts() -> None:
    settings = {m.short_name: m.settings for m in SYNC_MODELS.values()}
    common = {"syncMode", "temperature", "activeSpeakerDetection", "occlusionDetectionEnabled"}
    assert settings["lipsync-2"] == settings["lipsync-2-pro"] == common | {"segments"}
    assert settings["react-1"] == common | {"editRegion", "emotionPrompt"}
    assert settings["sync-3"] == {
        "syncMode",
        "temperature",
        "mode",
        "occlusionDetection",
        "activeSpeakerDetection",
        "segments",
        "tts",
    }
    assert {m.short_name: m.shape for m in SYNC_MODELS.values()} == {
        "lipsync-2": "providerSettings",
        "lipsync-2-pro": "providerSettings",
        "react-1": "providerSettings",
        "sync-3": "settings",
    }


def test_only_what_was_set_is_sent() -> None:
    assert build() == {
        "taskType": "videoInference",
        "model": "sync:lipsync-2@1",
        "deliveryMethod": "async",
        "includeCost": True,
        "inputs": {"video": "v-uuid", "audio": [{"id": "audio-1", "source": "a-uuid"}]},
    }
    assert "providerSettings" not in build(sync_mode=None, temperature="")


def test_templated_strings_are_read_back_into_structures_and_values() -> None:
    payload = build(
        audio='[{"id": "fr", "source": "a-uuid"}]',
        segments="[{'start_time': '0', 'end_time': 2.5, 'ref': 'fr'}]",
        temperature="0.25",
        active_speaker_detection="true",
        sync_mode="LOOP",
        output_format="webm",
        output_quality="80",
    )
    assert payload["inputs"]["audio"] == [{"id": "fr", "source": "a-uuid"}]
    assert payload["providerSettings"]["sync"] == {
        "syncMode": "loop",
        "temperature": 0.25,
        "activeSpeakerDetection": True,
        "segments": [{"startTime": 0, "endTime": 2.5, "ref": "fr"}],
    }
    assert (payload["outputFormat"], payload["outputQuality"]) == ("WEBM", 80)


def test_speech_accepts_voice_id_in_snake_case() -> None:
    payload = build(
        audio=None, speech={"id": "s", "provider": {"name": "elevenlabs", "voice_id": "v1"}, "text": "Hi"}
    )
    assert payload["inputs"]["speech"] == [
        {"id": "s", "provider": {"name": "elevenlabs", "voiceId": "v1"}, "text": "Hi"}
    ]


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"output_quality": 100}, ["output_quality", "99"]),
        ({"temperature": -0.1}, ["temperature", "0"]),
        ({"audio": [{"id": "a", "source": "x"}, {"id": "a", "source": "y"}]}, ["unique", "repeated: a"]),
        (
            {
                "segments": [
                    {"startTime": 0, "endTime": 2, "ref": "audio-1"},
                    {"startTime": 1, "endTime": 3, "ref": "audio-1"},
                ]
            },
            ["overlap"],
        ),
        (
            {"segments": [{"startTime": 2, "endTime": 2, "ref": "audio-1"}]},
            ["endTime", "greater than startTime"],
        ),
        (
            {
                "segments": [
                    {"startTime": 0, "endTime": 2, "ref": "audio-1", "audioStartTime": 3, "audioEndTime": 1}
                ]
            },
            ["audioEndTime"],
        ),
        ({"segments": [{"startTime": 0, "endTime": 2, "ref": "zz"}]}, ["'zz'", "audio-1"]),
        ({"model": "react-1", "edit_region": "torso"}, ["edit_region", "'lips'", "'face'", "'head'"]),
        ({"model": "lipsync-2", "emotion_prompt": "happy"}, ["emotionPrompt", "react-1"]),
        ({"video": ""}, ["video"]),
    ],
)
def test_errors_name_the_field_and_what_is_allowed(kwargs: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(SyncValidationError) as err:
        build(**kwargs)
    assert isinstance(err.value, ValueError)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_touching_segments_are_fine() -> None:
    segments = [
        {"startTime": 0, "endTime": 2, "ref": "audio-1"},
        {"startTime": 2, "endTime": 4, "ref": "audio-1"},
    ]
    assert len(build(segments=segments)["providerSettings"]["sync"]["segments"]) == 2


def test_valid_segments_given_out_of_time_order_are_accepted_and_sent_as_given() -> None:
    segments = [
        {"startTime": 4, "endTime": 6, "ref": "audio-1"},
        {"startTime": 0, "endTime": 2, "ref": "audio-1"},
        {"startTime": 2, "endTime": 3.5, "ref": "audio-1"},
    ]
    sent = build(segments=segments)["providerSettings"]["sync"]["segments"]
    assert [(s["startTime"], s["endTime"]) for s in sent] == [(4, 6), (0, 2), (2, 3.5)]


def test_out_of_order_segments_that_overlap_are_refused_naming_both() -> None:
    segments = [
        {"startTime": 4, "endTime": 6, "ref": "audio-1"},
        {"startTime": 0, "endTime": 2, "ref": "audio-1"},
        {"startTime": 5, "endTime": 7, "ref": "audio-1"},
    ]
    with pytest.raises(SyncValidationError, match=r"segment 0 \[4-6 s\] and segment 2 \[5-7 s\] overlap"):
        build(segments=segments)


def test_an_id_used_by_both_an_audio_and_a_speech_input_is_refused() -> None:
    speech = {"id": "audio-1", "provider": {"name": "elevenlabs", "voiceId": "v"}, "text": "Hi"}
    with pytest.raises(SyncValidationError) as err:
        build(speech=[speech])
    assert "ids must be unique across both lists" in str(err.value)
    assert "repeated: audio-1" in str(err.value)
    payload = build(speech=[{**speech, "id": "voice-1"}])
    assert [i["id"] for i in payload["inputs"]["audio"] + payload["inputs"]["speech"]] == [
        "audio-1",
        "voice-1",
    ]


def test_segments_may_point_at_speech_inputs() -> None:
    speech = {"id": "voice-1", "provider": {"name": "elevenlabs", "voiceId": "v"}, "text": "Hi"}
    segments = [
        {"startTime": 0, "endTime": 1, "ref": "voice-1"},
        {"startTime": 1, "endTime": 2, "ref": "audio-1"},
    ]
    assert len(build(speech=[speech], segments=segments)["providerSettings"]["sync"]["segments"]) == 2


@pytest.mark.parametrize("blank", ["", " ", "None", "null"])
def test_a_template_that_renders_nothing_leaves_the_setting_to_runware(blank: str) -> None:
    payload = build(sync_mode=blank, temperature=blank, output_format=blank, output_quality=blank)
    assert "providerSettings" not in payload
    assert "outputFormat" not in payload
    assert "outputQuality" not in payload


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (0, False), (1, True), ("no", False), ("ON", True)]
)
def test_flags_accept_what_templates_render(value: Any, expected: bool) -> None:
    assert parse_flag(value, "force_new_job") is expected


@pytest.mark.parametrize("value", [2, -1, 0.5, "maybe", None, "none"])
def test_other_flag_values_are_refused(value: Any) -> None:
    with pytest.raises(SyncValidationError, match="force_new_job"):
        parse_flag(value, "force_new_job")


def test_a_segment_error_names_the_segment() -> None:
    """A model-level check that names only its keys (endTime, startTime) gets the segment's path."""
    segments = [{"startTime": 2, "endTime": 1, "ref": "audio-1"}]
    with pytest.raises(SyncValidationError) as err:
        build_video_inference(model="lipsync-2", video="v", audio="a", segments=segments)
    assert err.value.problems == [
        "segments.0 (providerSettings.sync.segments.0): endTime (1) must be greater than startTime (2)"
    ]
