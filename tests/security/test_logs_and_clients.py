"""Logs do not spill secrets of other kinds, and HTTP clients do not outlive the task (issue 10, point 6).

A presigned URL carries its credentials in the query string and a data URI carries the
media itself; neither is logged whole. The hook's HTTP clients are closed when ``execute``
returns, raises or defers, and after ``execute_complete``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import RunwareJobError
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.media import describe_source
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from ..operators.conftest import SUCCESS, FakeTI
from .conftest import UploadingRunware

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"
AUDIO_SIG = "AUDIOSIGNATURE0123456789abcdef"
RESULT_SIG = "RESULTSIGNATURE0123456789abcdef"
DATA_MARKER = "TUFSS0VSLU9GLVRIRS1NRURJQQ"  # base64 of "MARKER-OF-THE-MEDIA", repeated below
SIGNED_AUDIO = (
    "https://voices.s3.amazonaws.com/fr.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential=AKIAEXAMPLE&X-Amz-Security-Token=TOKEN{AUDIO_SIG}&X-Amz-Signature={AUDIO_SIG}"
)
SIGNED_RESULT = f"https://im.runware.test/video/v-1.mp4?Expires=1&Key-Pair-Id=K&Signature={RESULT_SIG}"


def test_describe_source_keeps_what_identifies_and_drops_what_authorises() -> None:
    assert describe_source(SIGNED_AUDIO) == "https://voices.s3.amazonaws.com/fr.wav?..."
    data = "data:audio/wav;base64," + DATA_MARKER * 1000
    shown = describe_source(data)
    assert shown.startswith("data:audio/wav;base64,...")
    assert DATA_MARKER not in shown
    assert len(shown) < 80
    bare = base64.b64encode(b"\x00" * 3000).decode()
    assert "AAAAAAAAAAAAAAAAAAAAAAAA" not in describe_source(bare)
    assert describe_source("https://user:pa55word@host.test/a.wav") == "https://***@host.test/a.wav"
    assert describe_source("s3://bucket/key.wav") == "s3://bucket/key.wav"
    assert describe_source(VIDEO) == VIDEO
    assert len(describe_source("/data/" + "x" * 5000 + ".wav")) < 200


def test_signed_urls_and_data_uris_are_not_logged(
    runware: UploadingRunware,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    runware.script = [{"status": "processing"}, {**SUCCESS, "videoURL": SIGNED_RESULT}]
    assert runware.router is not None
    runware.router.get(url__startswith="https://im.runware.test/video/").mock(
        return_value=httpx.Response(200, content=b"\x00video")
    )
    op = SyncLipsyncOperator(
        task_id="t",
        video="data:video/mp4;base64," + DATA_MARKER * 2000,
        audio=SIGNED_AUDIO,
        output_path=str(tmp_path / "out.mp4"),
        deferrable=False,
        poll_interval=0.01,
    )
    result = op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert result["video_url"] == SIGNED_RESULT  # the result itself is whole
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "Request for sync:lipsync-2@1" in logged  # the lines checked were logged
    assert "https://voices.s3.amazonaws.com/fr.wav?..." in logged
    assert "succeeded after" in logged
    assert "Saved the video to" in logged
    for secret in (AUDIO_SIG, RESULT_SIG, "AKIAEXAMPLE", DATA_MARKER):
        assert secret not in logged, secret


class _ClientSpy:
    """Records the hook's HTTP clients when it closes them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.closed: list[httpx.Client] = []
        self.calls = 0
        original = RunwareHook.close

        def close(hook: RunwareHook) -> None:
            self.calls += 1
            self.closed += [c for c in (hook._client, hook._download_client) if c is not None]
            original(hook)

        monkeypatch.setattr(RunwareHook, "close", close)

    def all_closed(self) -> bool:
        return bool(self.closed) and all(c.is_closed for c in self.closed)


def test_clients_are_closed_when_execute_returns(
    runware: UploadingRunware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _ClientSpy(monkeypatch)
    op = SyncLipsyncOperator(
        task_id="t",
        video=VIDEO,
        audio=AUDIO,
        output_path=str(tmp_path / "v.mp4"),
        deferrable=False,
        poll_interval=0.01,
    )
    op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert spy.calls == 1
    assert len(spy.closed) == 2  # the API client and the download client
    assert spy.all_closed()
    assert getattr(op, "_hook", None) is None


def test_clients_are_closed_when_execute_defers_and_after_resuming(
    runware: UploadingRunware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _ClientSpy(monkeypatch)
    op = SyncLipsyncOperator(
        task_id="t", video=VIDEO, audio=AUDIO, output_path=str(tmp_path / "v.mp4"), deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert spy.calls == 1
    assert spy.all_closed()
    event: dict[str, Any] = {
        "status": "success",
        "task_uuid": deferred.value.trigger.task_uuid,
        "result": SUCCESS,
    }
    op.execute_complete({"ti": FakeTI()}, event, "sync:lipsync-2@1")  # type: ignore[arg-type]
    assert spy.calls == 2
    assert spy.all_closed()  # the download client too


def test_clients_are_closed_when_the_job_fails(
    runware: UploadingRunware, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _ClientSpy(monkeypatch)
    runware.script = [{"status": "error", "error": {"code": "timeoutProvider", "message": "too long"}}]
    with pytest.raises(RunwareJobError):
        SyncLipsyncOperator(
            task_id="t", video=VIDEO, audio=AUDIO, deferrable=False, poll_interval=0.01
        ).execute(
            {"ti": FakeTI()}  # type: ignore[arg-type]
        )
    assert spy.calls == 1
    assert spy.all_closed()
