"""The one price table and the estimate made from it before a render is paid for."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import SYNC_MODELS, build_video_inference
from airflow_provider_sync.pricing import PRICES, audio_duration, estimate_cost, parse_max_cost

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(rate * seconds))
    return path


def test_every_model_has_one_price_with_its_source_and_date() -> None:
    assert set(PRICES) == set(SYNC_MODELS)
    assert PRICES["sync:lipsync-2@1"].usd_per_audio_second == 0.044
    assert PRICES["sync:lipsync-2@1"].confirmed
    for price in PRICES.values():
        assert price.usd_per_audio_second > 0
        assert "runware.ai" in price.source
        assert price.read == "2026-12-02"


def test_a_local_file_is_measured_and_priced(tmp_path: Path) -> None:
    source = str(wav(tmp_path / "fr.wav", 6.0))
    assert audio_duration(source) == pytest.approx(6.0)
    request = build_video_inference(model="lipsync-2", video=VIDEO, audio=source).to_payload()
    estimate = estimate_cost(request, audio_duration)
    assert estimate.usd == pytest.approx(0.264)
    assert "6.0 s of audio x USD 0.044/s for sync:lipsync-2@1" in estimate.describe()


def test_segments_give_their_own_seconds_for_either_request_shape() -> None:
    older = build_video_inference(
        model="lipsync-2-pro",
        video=VIDEO,
        audio=[{"id": "a", "source": AUDIO}],
        segments=[
            {"start_time": 0, "end_time": 2, "ref": "a"},
            {"start_time": 3, "end_time": 4.5, "ref": "a"},
        ],
    ).to_payload()
    assert estimate_cost(older).usd == pytest.approx(round(3.5 * 0.0733, 4))
    sync3 = build_video_inference(
        model="sync-3", video=VIDEO, segments=[{"start_time": 1, "end_time": 3, "audio": AUDIO}]
    ).to_payload()
    estimate = estimate_cost(sync3)
    assert estimate.usd == pytest.approx(round(2 * 0.133, 4))
    assert "unconfirmed" in estimate.basis


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"audio": AUDIO}, "is not a file the worker can measure"),
        ({"audio": "https://cdn.example.com/a.wav"}, "is not a file the worker can measure"),
        ({"audio": None, "speech": {"text": "Hello.", "voice": "v"}}, "text-to-speech"),
    ],
)
def test_what_cannot_be_measured_before_the_render_is_unknown(kwargs: dict[str, object], reason: str) -> None:
    request = build_video_inference(model="sync-3", video=VIDEO, **kwargs).to_payload()
    estimate = estimate_cost(request, audio_duration)
    assert estimate.usd is None
    assert reason in estimate.describe()
    assert estimate.describe().startswith("unknown (")


def test_an_unreadable_file_has_no_length(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 10)
    assert audio_duration(str(broken)) is None
    assert audio_duration(str(tmp_path / "missing.wav")) is None
    request = build_video_inference(model="lipsync-2", video=VIDEO, audio=AUDIO).to_payload()
    request["inputs"]["audio"][0]["source"] = str(broken)
    assert "could not be read" in estimate_cost(request, audio_duration).basis


@pytest.mark.parametrize(
    ("value", "usd"), [(1, 1.0), ("0.25", 0.25), (" 2 ", 2.0), (None, None), ("None", None)]
)
def test_max_cost_reads_amounts(value: object, usd: float | None) -> None:
    assert parse_max_cost(value) == usd


@pytest.mark.parametrize("value", [0, -0.5, "nan", "inf", True, "ten dollars", [1]])
def test_max_cost_refuses_what_is_not_an_amount(value: object) -> None:
    with pytest.raises(SyncValidationError, match="max_cost"):
        parse_max_cost(value)
