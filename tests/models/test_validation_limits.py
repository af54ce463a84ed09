"""No value passes validation that fails later (issue 10, point 4).

Timing values, numbers, booleans, sizes and nesting are checked when the request is built,
so a bad value from a template fails at the start of ``execute``, before any upload or
request, with ``SyncValidationError`` naming the parameter.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import (
    MAX_ID_CHARS,
    MAX_INPUTS,
    MAX_SEGMENTS,
    MAX_SOURCE_CHARS,
    MAX_TEXT_CHARS,
    build_video_inference,
    parse_flag,
    parse_seconds,
)
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from ..operators.conftest import BASE_URL, FakeTI

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def build(**kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": "lipsync-2", "video": VIDEO, "audio": "a-uuid"}
    return build_video_inference(**{**params, **kwargs}).to_payload()


def seg(start: Any, end: Any, ref: str = "audio-1", **extra: Any) -> dict[str, Any]:
    return {"startTime": start, "endTime": end, "ref": ref, **extra}


# ---------------------------------------------------------------- timing values


@pytest.mark.parametrize(
    "value",
    [
        timedelta(0),
        timedelta(seconds=-5),
        "nan",
        "NaN",
        float("nan"),
        "inf",
        float("-inf"),
        -5,
        "-5",
        0,
        "0",
        True,
        False,
        "soon",
        None,
        [],
        1e12,
        timedelta(days=365),
    ],
)
def test_timing_values_must_be_finite_positive_seconds(value: Any) -> None:
    with pytest.raises(SyncValidationError, match="poll_interval"):
        parse_seconds(value, "poll_interval")


@pytest.mark.parametrize(
    ("value", "seconds"), [(5, 5.0), ("2.5", 2.5), (" 3 ", 3.0), (timedelta(minutes=2), 120.0), (0.01, 0.01)]
)
def test_timing_values_in_any_form(value: Any, seconds: float) -> None:
    assert parse_seconds(value, "timeout") == seconds


@pytest.mark.parametrize(
    "kwargs",
    [
        {"poll_interval": "nan"},
        {"poll_interval": True},
        {"timeout": timedelta(0)},
        {"timeout": "-1"},
        {"expected_render_time": "inf"},
        {"expected_render_time": timedelta(seconds=-1)},
    ],
)
def test_literal_timing_values_fail_when_the_dag_is_parsed(kwargs: dict[str, Any]) -> None:
    with pytest.raises(SyncValidationError, match=next(iter(kwargs))):
        SyncLipsyncOperator(task_id="t", video=VIDEO, audio="a-uuid", **kwargs)


@pytest.mark.parametrize("name", ["poll_interval", "timeout", "expected_render_time"])
def test_templated_timing_values_fail_before_any_upload_or_request(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RUNWARE_DEFAULT",
        json.dumps({"conn_type": "runware", "host": BASE_URL, "password": "k"}),
    )
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + b"\x00" * 100)
    op = SyncLipsyncOperator(task_id="t", video=VIDEO, audio=str(voice), **{name: "{{ params.value }}"})
    op.render_template_fields({"params": {"value": "nan"}})  # type: ignore[arg-type]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(SyncValidationError, match=name):
            op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert route.call_count == 0  # not even the upload of the local file


# ---------------------------------------------------------------- numbers, booleans, segments


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"segments": [seg(0, float("inf"))]}, "segments.0.endTime"),
        ({"segments": [seg(0, "inf")]}, "segments.0.endTime"),
        ({"segments": [seg("nan", 2)]}, "segments.0.startTime"),
        ({"segments": [seg(0, 2, audioStartTime=0, audioEndTime=float("inf"))]}, "segments.0.audioEndTime"),
        ({"segments": [seg(True, 2)]}, "segments.0.startTime"),
        ({"segments": []}, "segments"),
        ({"segments": "[]"}, "segments"),
        ({"temperature": True}, "temperature"),
        ({"temperature": "nan"}, "temperature"),
        ({"output_quality": True}, "output_quality"),
        ({"include_cost": "maybe"}, "include_cost"),
    ],
)
def test_values_that_would_fail_later_are_refused_now(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SyncValidationError) as err:
        build(**kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("rendered", "expected"), [("False", False), ("false", False), ("True", True), (False, False)]
)
def test_include_cost_rendered_from_a_template_means_what_it_says(rendered: Any, expected: bool) -> None:
    assert build(include_cost=rendered)["includeCost"] is expected


def test_flags_read_the_way_templates_render_them() -> None:
    assert parse_flag("False", "f") is False
    assert parse_flag(" true ", "f") is True
    assert parse_flag(1, "f") is True
    with pytest.raises(SyncValidationError, match="force_new_job"):
        parse_flag("perhaps", "force_new_job")
    with pytest.raises(SyncValidationError, match="force_new_job"):
        SyncLipsyncOperator(task_id="t", video=VIDEO, audio="a", force_new_job="perhaps")


def test_segments_out_of_time_order_are_accepted_as_given() -> None:
    """Runware's sync notes ask for endTime > startTime and no order; the order is kept."""
    segments = [seg(5, 8, "b"), seg(0, 3, "a")]
    payload = build(audio=[{"id": "a", "source": "x"}, {"id": "b", "source": "y"}], segments=segments)
    assert payload["providerSettings"]["sync"]["segments"] == segments
    with pytest.raises(SyncValidationError, match="overlap"):
        build(
            audio=[{"id": "a", "source": "x"}, {"id": "b", "source": "y"}],
            segments=[seg(5, 8, "b"), seg(0, 6, "a")],
        )


def test_ids_must_be_unique_across_audio_and_speech() -> None:
    speech = [{"id": "main", "provider": {"name": "elevenlabs", "voiceId": "v"}, "text": "Hello."}]
    with pytest.raises(SyncValidationError, match="ids must be unique across both lists; repeated: main"):
        build(audio=[{"id": "main", "source": "a-uuid"}], speech=speech)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"audio": [{"id": "a" * (MAX_ID_CHARS + 1), "source": "x"}]}, "audio.0.id"),
        (
            {
                "audio": None,
                "speech": [
                    {"id": "s", "provider": {"name": "e", "voiceId": "v"}, "text": "t" * (MAX_TEXT_CHARS + 1)}
                ],
            },
            "speech.0.text",
        ),
        (
            {
                "audio": None,
                "speech": [
                    {"id": "s", "provider": {"name": "e", "voiceId": "v" * (MAX_ID_CHARS + 1)}, "text": "t"}
                ],
            },
            "speech.0.provider.voiceId",
        ),
        ({"audio": [f"https://cdn.test/{n}.wav" for n in range(MAX_INPUTS + 1)]}, "audio"),
        ({"segments": [seg(n, n + 0.5) for n in range(MAX_SEGMENTS + 1)]}, "segments"),
        ({"video": "https://cdn.test/" + "v" * MAX_SOURCE_CHARS}, "video"),
        ({"audio": "https://cdn.test/" + "a" * MAX_SOURCE_CHARS}, "audio.0.source"),
    ],
    ids=["id", "text", "voice-id", "inputs", "segments", "video-url", "audio-url"],
)
def test_sizes_are_capped(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SyncValidationError) as err:
        build(**kwargs)
    assert fragment in str(err.value)
    assert len(str(err.value)) < 2000  # the offending value is not echoed whole


def test_the_caps_leave_room_for_real_requests() -> None:
    audio = [{"id": f"a{n}", "source": f"https://cdn.test/{n}.wav"} for n in range(MAX_INPUTS)]
    build(audio=audio, segments=[seg(n, n + 0.5, f"a{n}") for n in range(MAX_SEGMENTS)])
    build(video="data:video/mp4;base64," + "A" * (MAX_SOURCE_CHARS * 4))  # data URIs are not capped here


# ---------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [50, 1_500, 200_000])
@pytest.mark.parametrize("name", ["audio", "speech", "segments"])
def test_deeply_nested_strings_are_a_validation_error_not_a_recursion_error(name: str, depth: int) -> None:
    value = "[" * depth + "]" * depth
    with pytest.raises(SyncValidationError, match=name):
        build(**{name: value})
    with pytest.raises(SyncValidationError, match=name):
        build(**{name: '{"a": ' * depth + "1" + "}" * depth})


def test_deeply_nested_native_values_are_refused_too() -> None:
    nested: Any = "x"
    for _ in range(3_000):
        nested = [nested]
    for name in ("audio", "segments", "video"):
        with pytest.raises(SyncValidationError, match=name):
            build(**{name: nested})


def test_a_nested_template_value_fails_in_execute_as_a_validation_error() -> None:
    op = SyncLipsyncOperator(task_id="t", video=VIDEO, audio="{{ dag_run.conf['audio'] }}")
    conf = {"audio": "[" * 100_000 + "]" * 100_000}
    op.render_template_fields({"dag_run": SimpleNamespace(conf=conf), "params": {}})  # type: ignore[arg-type]
    with pytest.raises(SyncValidationError, match="nested more than"):
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]


def test_the_request_is_serialisable_when_built() -> None:
    payload = build(segments=[seg(0, 2.5)], temperature="0.5")
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload


def test_a_deeply_nested_literal_fails_at_parse_time_naming_its_parameter() -> None:
    deep = "[" * 5_000 + "]" * 5_000
    with pytest.raises(SyncValidationError, match="segments: nested more than"):
        SyncLipsyncOperator(task_id="t", video="{{ params.video }}", audio="a.wav", segments=deep)
