"""Generated parameter sets for all three models: the client and the emulator agree.

Every invalid set raises ``SyncValidationError`` naming the field, before any HTTP request;
every valid set passes the emulator's own validation (written separately from the spec).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import build_video_inference
from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator
from airflow_provider_sync.testing.emulator import validate_task

from ..operators.conftest import FakeTI

MODELS = ["lipsync-2", "lipsync-2-pro", "react-1"]
SYNC_MODES = ["bounce", "loop", "cut_off", "silence", "remap"]
EMOTIONS = ["happy", "sad", "angry", "disgusted", "surprised", "neutral"]
REGIONS = ["lips", "face", "head"]
FORMATS = ["MP4", "WEBM", "MOV"]
URL = "http://props.test/v1"

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
uuids = st.uuids(version=4).map(str)
sources = st.one_of(uuids, st.builds(lambda u: f"https://cdn.example.com/{u}.wav", uuids))
case = st.sampled_from


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def segments_for(draw: st.DrawFn, refs: list[str]) -> list[dict[str, Any]]:
    """Non-overlapping segments in time order, each pointing at an existing input."""
    count = draw(st.integers(min_value=1, max_value=4))
    bounds = sorted(draw(st.lists(st.integers(0, 600), min_size=count * 2, max_size=count * 2, unique=True)))
    out = []
    for i in range(count):
        seg: dict[str, Any] = {"startTime": bounds[2 * i] / 10, "endTime": bounds[2 * i + 1] / 10}
        seg["ref"] = draw(case(refs))
        if draw(st.booleans()):
            a = draw(st.integers(0, 300))
            seg["audioStartTime"], seg["audioEndTime"] = a / 10, (a + draw(st.integers(1, 100))) / 10
        out.append(seg)
    return out


@st.composite
def valid_params(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(case(MODELS))
    input_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    split = draw(st.integers(0, len(input_ids)))
    audio = [{"id": i, "source": draw(sources)} for i in input_ids[:split]]
    speech = [
        {
            "id": i,
            "provider": {"name": "elevenlabs", "voiceId": draw(ids)},
            "text": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
        }
        for i in input_ids[split:]
    ]
    params: dict[str, Any] = {
        "model": model,
        "video": draw(uuids),
        "audio": audio or None,
        "speech": speech or None,
        "sync_mode": draw(maybe(case(SYNC_MODES).map(lambda m: draw(case([m, m.upper()]))))),
        "temperature": draw(maybe(st.floats(0, 1))),
        "active_speaker_detection": draw(maybe(st.booleans())),
        "occlusion_detection_enabled": draw(maybe(st.booleans())),
        "output_format": draw(maybe(case(FORMATS + [f.lower() for f in FORMATS]))),
        "output_quality": draw(maybe(st.integers(20, 99))),
    }
    if model == "react-1":
        params["edit_region"] = draw(maybe(case(REGIONS)))
        params["emotion_prompt"] = draw(maybe(case(EMOTIONS)))
    elif draw(st.booleans()):
        params["segments"] = draw(segments_for(input_ids))
    return params


def _first_segment(p: dict[str, Any]) -> dict[str, Any]:
    if not p.get("segments"):
        p["segments"] = [{"startTime": 0, "endTime": 1, "ref": (p["audio"] or p["speech"])[0]["id"]}]
    return p["segments"][0]


def _as_lipsync(p: dict[str, Any]) -> dict[str, Any]:
    if p["model"] == "react-1":
        p["model"] = "lipsync-2"
        p.pop("edit_region", None)
        p.pop("emotion_prompt", None)
    return p


# Each mutation breaks one rule and names the field the error must mention.
MUTATIONS: dict[str, tuple[str, Any]] = {
    "sync_mode_unknown": (
        "sync_mode",
        lambda p, d: p.update(sync_mode=d(case(["bouncy", "loops", "", "cutoff"]).filter(bool))),
    ),
    "temperature_high": ("temperature", lambda p, d: p.update(temperature=d(st.floats(1.0001, 100)))),
    "temperature_low": ("temperature", lambda p, d: p.update(temperature=d(st.floats(-100, -0.0001)))),
    "quality_range": (
        "output_quality",
        lambda p, d: p.update(output_quality=d(st.one_of(st.integers(-5, 19), st.integers(100, 500)))),
    ),
    "format_unknown": ("output_format", lambda p, d: p.update(output_format=d(case(["AVI", "mkv", "GIF"])))),
    "model_unknown": ("model", lambda p, d: p.update(model=d(case(["lipsync-3", "sync:react-2@1", "gpt"])))),
    "no_audio_no_speech": ("audio", lambda p, d: p.update(audio=None, speech=None)),
    "duplicate_ids": (
        "id",
        lambda p, d: p.update(
            audio=[{"id": "dup", "source": d(sources)}, {"id": "dup", "source": d(sources)}]
        ),
    ),
    "edit_region_on_lipsync": (
        "edit_region",
        lambda p, d: _as_lipsync(p).update(edit_region=d(case(REGIONS))),
    ),
    "emotion_on_lipsync": (
        "emotion_prompt",
        lambda p, d: _as_lipsync(p).update(emotion_prompt=d(case(EMOTIONS))),
    ),
    "segments_on_react": (
        "segments",
        lambda p, d: p.update(
            model="react-1",
            segments=[{"startTime": 0, "endTime": 1, "ref": (p["audio"] or p["speech"])[0]["id"]}],
        ),
    ),
    "segment_unknown_ref": ("ref", lambda p, d: _first_segment(_as_lipsync(p)).update(ref="no-such-input")),
    "segment_reversed": (
        "endTime",
        lambda p, d: _first_segment(_as_lipsync(p)).update(startTime=5, endTime=d(st.floats(0, 5))),
    ),
    "segment_negative": (
        "startTime",
        lambda p, d: _first_segment(_as_lipsync(p)).update(startTime=d(st.floats(-50, -0.01))),
    ),
    "segment_half_audio_window": (
        "audioStartTime",
        lambda p, d: (
            _first_segment(_as_lipsync(p)).update(audioStartTime=1.0)
            or _first_segment(p).pop("audioEndTime", None)
        ),
    ),
    "segment_audio_reversed": (
        "audioEndTime",
        lambda p, d: _first_segment(_as_lipsync(p)).update(
            audioStartTime=4.0, audioEndTime=d(st.floats(0, 4))
        ),
    ),
    "segments_overlap": (
        "overlap",
        lambda p, d: _as_lipsync(p).update(
            segments=[
                {"startTime": 0, "endTime": 3, "ref": (p["audio"] or p["speech"])[0]["id"]},
                {
                    "startTime": d(st.floats(0, 2.9)),
                    "endTime": 4,
                    "ref": (p["audio"] or p["speech"])[0]["id"],
                },
            ]
        ),
    ),
    "edit_region_unknown": (
        "edit_region",
        lambda p, d: p.update(model="react-1", segments=None, edit_region="torso"),
    ),
    "emotion_unknown": (
        "emotion_prompt",
        lambda p, d: p.update(model="react-1", segments=None, emotion_prompt="bored"),
    ),
}


@st.composite
def invalid_params(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    params = draw(valid_params())
    name = draw(case(sorted(MUTATIONS)))
    field, mutate = MUTATIONS[name]
    mutate(params, draw)
    return name, field, params


def parse_and_run(params: dict[str, Any]) -> None:
    """Build the operator as a DAG file would (literal values fail here), then execute it.

    ``edit_region``/``emotion_prompt`` exist only on the react operator; with a lip-sync model
    there, the model is what gets refused.
    """
    react_only = params.get("edit_region") is not None or params.get("emotion_prompt") is not None
    cls = SyncReactOperator if params["model"] == "react-1" or react_only else SyncLipsyncOperator
    op = cls(task_id="t", **{k: v for k, v in params.items() if v is not None}, poll_interval=0.01)
    op.execute({"ti": FakeTI()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params())
def test_valid_parameters_pass_our_validation_and_the_emulators(params: dict[str, Any]) -> None:
    task = build_video_inference(**params, task_uuid=str(uuid.uuid4())).to_payload()
    assert validate_task(task) == []
    assert json.loads(json.dumps(task)) == task  # plain JSON on the wire
    assert all(v is not None for v in task.values())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_params())
def test_invalid_parameters_fail_before_any_request_naming_the_field(
    case_: tuple[str, str, dict[str, Any]],
) -> None:
    name, field, params = case_
    with pytest.raises(SyncValidationError) as direct:
        build_video_inference(**params)
    assert field in str(direct.value), name
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(500))
        with pytest.raises(SyncValidationError):
            parse_and_run(params)
        assert route.call_count == 0
        assert len(mock.calls) == 0


@settings(max_examples=100, deadline=None)
@given(invalid_params())
def test_templated_invalid_values_fail_at_execute_before_any_request(
    case_: tuple[str, str, dict[str, Any]],
) -> None:
    """The same sets, arriving as rendered JSON strings as they would from dag_run.conf."""
    name, field, params = case_
    # Not expressible as templated values: an unknown model or a parameter the operator class
    # does not have fails at parse time; "no audio at all" is a literal absence.
    assume(params["model"] in MODELS)
    assume(name not in {"edit_region_on_lipsync", "emotion_on_lipsync", "no_audio_no_speech"})
    cls = SyncReactOperator if params["model"] == "react-1" else SyncLipsyncOperator
    templated = {k: "{{ params." + k + " }}" for k, v in params.items() if v is not None and k != "model"}
    op = cls(task_id="t", model=params["model"], **templated)
    rendered = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in params.items()}
    op.render_template_fields({"params": rendered})
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(500))
        with pytest.raises(SyncValidationError) as err:
            op.execute({"ti": FakeTI()})
        assert route.call_count == 0
    assert field in str(err.value)
