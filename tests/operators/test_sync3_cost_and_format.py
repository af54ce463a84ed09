"""SyncLipsyncOperator with sync-3, the price logged before submitting, max_cost, and a
templated output_format normalised before any request."""

from __future__ import annotations

import logging
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from .conftest import BASE_URL, SUCCESS, FakeRunware, FakeTI

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def sync3(**kwargs: Any) -> SyncLipsyncOperator:
    params: dict[str, Any] = {"task_id": "sync3", "model": "sync-3", "video": VIDEO, "poll_interval": 0.01}
    return SyncLipsyncOperator(**{**params, **kwargs})


def context(ti: FakeTI | None = None, **extra: Any) -> dict[str, Any]:
    return {"ti": ti or FakeTI(), **extra}


def wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return path


# ---------------------------------------------------------------- sync-3


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        (
            {"audio": AUDIO, "speech": {"text": "t", "voice": "v"}},
            ["exactly one of them", "audio (inputs.audio)"],
        ),
        ({"audio": AUDIO, "active_speaker_detection": {"coordinates": [5, 5]}}, ["frameNumber", "together"]),
        (
            {
                "audio": AUDIO,
                "active_speaker_detection": {
                    "bounding_boxes": [None],
                    "coordinates": [1, 1],
                    "frame_number": 0,
                },
            },
            ["boundingBoxes or coordinates + frameNumber, not both"],
        ),
        ({"audio": AUDIO, "tts": {"stability": 0.2}}, ["tts (settings.tts)", "needs speech"]),
        ({"audio": AUDIO, "sync_mode": "loop"}, ["sync_mode (settings.syncMode)", "'remap'"]),
    ],
)
def test_a_bad_literal_sync3_request_fails_when_the_dag_is_parsed(
    kwargs: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(SyncValidationError) as err:
        sync3(**kwargs)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_templated_audio_speech_or_segments_wait_for_the_run_but_literal_settings_are_checked() -> None:
    op = sync3(audio="{{ params.audio }}", speech="{{ params.speech }}", edit_region="head")
    op.render_template_fields(context(params={"audio": "", "speech": {"text": "Hi.", "voice": "v"}}))
    assert op.build_request()["speech"] == {"text": "Hi.", "voice": "v"}
    with pytest.raises(SyncValidationError, match="edit_region"):
        sync3(audio="{{ params.audio }}", edit_region="body")
    # A templated model is checked against the model that takes the literal parameters given.
    templated = SyncLipsyncOperator(
        task_id="t", model="{{ params.model }}", video=VIDEO, audio=AUDIO, tts=None, edit_region="face"
    )
    templated.render_template_fields(context(params={"model": "sync-3"}))
    assert templated.build_request()["settings"] == {"mode": "face"}


def test_sync3_submits_its_own_shape_and_a_local_audio_file_is_uploaded_first(
    runware_conn: str, tmp_path: Path
) -> None:
    fake_runware = FakeRunware()
    fake_runware.script = [{"status": "processing"}]
    audio = wav(tmp_path / "fr.wav", 2.0)
    uploads: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if b'"mediaStorage"' in request.content[:200]:
            uploads.append({"size": len(request.content)})
            task_uuid = request.content.split(b'"taskUUID": "', 1)[1].split(b'"', 1)[0].decode()
            body = {
                "data": [
                    {"taskType": "mediaStorage", "taskUUID": task_uuid, "mediaUUID": "m-1", "mediaURL": "x"}
                ]
            }
            return httpx.Response(200, json=body)
        return fake_runware.handler(request)

    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE_URL).mock(side_effect=handler)
        with pytest.raises(TaskDeferred):
            sync3(audio=str(audio), sync_mode="silence", deferrable=True).execute(context())
    [sent] = fake_runware.submissions
    assert len(uploads) == 1
    assert sent["model"] == "sync:3@0"
    assert sent["inputs"] == {"video": VIDEO, "audio": "m-1"}
    assert sent["settings"] == {"syncMode": "silence"}
    assert "providerSettings" not in sent


# ---------------------------------------------------------------- cost before paying


def logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """Everything logged so far: Airflow's structlog may write to stdout instead of logging."""
    out = capsys.readouterr()
    return caplog.text + out.out + out.err


def test_the_estimated_price_is_logged_before_submitting(
    runware_conn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    audio = wav(tmp_path / "take.wav", 3.0)
    fake_runware = FakeRunware()
    fake_runware.script = [SUCCESS]
    op = SyncLipsyncOperator(task_id="l", video=VIDEO, audio=str(audio), deferrable=False, poll_interval=0.01)
    with respx.mock(assert_all_called=False) as mock, caplog.at_level(logging.INFO):
        mock.post(BASE_URL).mock(side_effect=_uploads_then(fake_runware))
        op.execute(context())
    line = next(line for line in logged(caplog, capsys).splitlines() if "Estimated price" in line)
    assert "USD 0.1320" in line  # 3.0 s x USD 0.044/s
    assert "3.0 s of audio" in line
    assert "sync-lipsync-2" in line


def _uploads_then(fake: FakeRunware) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if b'"mediaStorage"' in request.read()[:200]:
            task_uuid = request.content.split(b'"taskUUID": "', 1)[1].split(b'"', 1)[0].decode()
            body = {
                "data": [
                    {"taskType": "mediaStorage", "taskUUID": task_uuid, "mediaUUID": "m-1", "mediaURL": "x"}
                ]
            }
            return httpx.Response(200, json=body)
        return fake.handler(request)

    return handler


@pytest.mark.parametrize("model", ["lipsync-2", "sync-3"])
def test_max_cost_refuses_to_submit_a_render_estimated_above_it(
    runware_conn: str, tmp_path: Path, model: str
) -> None:
    audio = wav(tmp_path / "long.wav", 30.0)
    op = SyncLipsyncOperator(
        task_id="l", model=model, video=VIDEO, audio=str(audio), max_cost="{{ params.cap }}"
    )
    op.render_template_fields(context(params={"cap": 0.5}))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE_URL)
        with pytest.raises(SyncValidationError) as err:
            op.execute(context())
    assert route.call_count == 0  # nothing sent: no probe, no upload, no submission
    message = str(err.value)
    assert "max_cost" in message
    assert "USD 0.5" in message
    assert "30.0 s of audio" in message
    assert "nothing was submitted" in message


def test_max_cost_above_the_estimate_lets_the_render_go(runware_conn: str, tmp_path: Path) -> None:
    audio = wav(tmp_path / "short.wav", 1.0)
    fake_runware = FakeRunware()
    fake_runware.script = [SUCCESS]
    op = SyncLipsyncOperator(
        task_id="l", video=VIDEO, audio=str(audio), max_cost=1, deferrable=False, poll_interval=0.01
    )
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE_URL).mock(side_effect=_uploads_then(fake_runware))
        assert op.execute(context())["status"] == "success"
    assert len(fake_runware.submissions) == 1


def test_an_unknown_estimate_warns_that_max_cost_cannot_be_checked_and_submits(
    fake_runware: FakeRunware, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_runware.script = [SUCCESS]
    op = SyncLipsyncOperator(
        task_id="l", video=VIDEO, audio=AUDIO, max_cost=0.01, deferrable=False, poll_interval=0.01
    )
    with caplog.at_level(logging.INFO):
        assert op.execute(context())["status"] == "success"
    text = logged(caplog, capsys)
    assert "Estimated price of this render: unknown" in text
    assert "max_cost (USD 0.01) cannot be checked" in text
    assert len(fake_runware.submissions) == 1


@pytest.mark.parametrize("bad", [0, -1, "nan", "inf", True, "cheap"])
def test_a_bad_max_cost_is_refused_when_the_dag_is_parsed(bad: Any) -> None:
    with pytest.raises(SyncValidationError, match="max_cost"):
        SyncLipsyncOperator(task_id="l", video=VIDEO, audio=AUDIO, max_cost=bad)


# ---------------------------------------------------------------- templated output_format


@pytest.mark.parametrize(
    ("rendered", "sent", "suffix"),
    [
        ("None", None, "mp4"),
        ("", None, "mp4"),
        (" webm", "WEBM", "webm"),
        ("mp4 ", "MP4", "mp4"),
        ("Mov", "MOV", "mov"),
    ],
)
def test_a_templated_output_format_is_normalised_before_any_request_and_the_file_follows_it(
    runware_conn: str, tmp_path: Path, rendered: str, sent: str | None, suffix: str
) -> None:
    fake_runware = FakeRunware()
    fake_runware.script = [SUCCESS]
    out = tmp_path / "renders"
    op = SyncLipsyncOperator(
        task_id="l",
        video=VIDEO,
        audio=AUDIO,
        output_format="{{ params.fmt }}",
        output_path=f"{out}/",
        deferrable=False,
        poll_interval=0.01,
    )
    op.render_template_fields(context(params={"fmt": rendered}))
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE_URL).mock(side_effect=fake_runware.handler)
        mock.get(SUCCESS["videoURL"]).mock(return_value=httpx.Response(200, content=b"\x00video"))
        result = op.execute(context())
    [submitted] = fake_runware.submissions
    assert submitted.get("outputFormat") == sent
    assert result["output_format"] == (sent or "MP4")
    assert result["output_path"] == f"{out}/{submitted['taskUUID']}.{suffix}"
    assert Path(result["output_path"]).read_bytes() == b"\x00video"


def test_an_unknown_templated_output_format_fails_before_any_request(runware_conn: str) -> None:
    op = SyncLipsyncOperator(task_id="l", video=VIDEO, audio=AUDIO, output_format="{{ params.fmt }}")
    op.render_template_fields(context(params={"fmt": "none please"}))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE_URL)
        with pytest.raises(SyncValidationError, match=r"output_format \(outputFormat\): 'NONE PLEASE'"):
            op.execute(context())
    assert route.call_count == 0
