"""Downloads: the saved video is never visible half-written, and a failed one leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import RunwareAPIError, RunwareTransientError
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.media import save_output

URL = "http://download.test/v1"
VIDEO_URL = "https://cdn.download.test/video/v-1.mp4"
CHUNKS = [bytes([n]) * 50_000 for n in range(6)]


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunwareHook]:
    conn = {
        "conn_type": "runware",
        "host": URL,
        "password": "k",
        "extra": {"max_attempts": 2, "retry_min_wait": 0.01, "retry_max_wait": 0.02},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    made = RunwareHook()
    yield made
    made.close()


def watched_stream(target: Path, seen: list[bool], fail_after: int | None = None) -> Iterator[bytes]:
    """The video's bytes; before each chunk, whether ``target`` is visible is noted in ``seen``."""
    for n, chunk in enumerate(CHUNKS):
        seen.append(target.exists() or target.is_symlink())
        if fail_after is not None and n == fail_after:
            raise httpx.ReadError("connection dropped mid-video")
        yield chunk


def test_the_target_does_not_exist_until_the_whole_video_is_written(
    hook: RunwareHook, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "video.mp4"
    seen: list[bool] = []
    with respx.mock:
        respx.get(VIDEO_URL).mock(
            side_effect=lambda request: httpx.Response(200, content=watched_stream(target, seen))
        )
        written = hook.download(VIDEO_URL, str(target))
    assert seen == [False] * len(CHUNKS)  # observed from inside the stream, chunk by chunk
    assert written == sum(map(len, CHUNKS))
    assert target.read_bytes() == b"".join(CHUNKS)
    assert [p.name for p in target.parent.iterdir()] == ["video.mp4"]  # no temporary left


def test_a_download_that_fails_midway_leaves_nothing(hook: RunwareHook, tmp_path: Path) -> None:
    target = tmp_path / "out" / "video.mp4"
    seen: list[bool] = []
    with respx.mock:
        route = respx.get(VIDEO_URL).mock(
            side_effect=lambda request: httpx.Response(
                200, content=watched_stream(target, seen, fail_after=3)
            )
        )
        with pytest.raises(RunwareTransientError):
            hook.download(VIDEO_URL, str(target))
    assert route.call_count == 2  # retried once, as the connection says
    assert not any(seen)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_the_operator_s_save_shows_the_file_only_once_it_is_complete(
    hook: RunwareHook, tmp_path: Path
) -> None:
    target = tmp_path / "renders" / "take.mp4"
    seen: list[bool] = []
    with respx.mock:
        respx.get(VIDEO_URL).mock(
            side_effect=lambda request: httpx.Response(200, content=watched_stream(target, seen))
        )
        size = save_output(lambda path: hook.download(VIDEO_URL, path), str(target))
    assert seen == [False] * len(CHUNKS)
    assert size == target.stat().st_size == sum(map(len, CHUNKS))
    assert [p.name for p in target.parent.iterdir()] == ["take.mp4"]


def test_a_failed_save_through_the_operator_s_path_leaves_nothing(hook: RunwareHook, tmp_path: Path) -> None:
    target = tmp_path / "renders" / "take.mp4"
    seen: list[bool] = []
    with respx.mock:
        respx.get(VIDEO_URL).mock(
            side_effect=lambda request: httpx.Response(
                200, content=watched_stream(target, seen, fail_after=1)
            )
        )
        with pytest.raises(RunwareTransientError):
            save_output(lambda path: hook.download(VIDEO_URL, path), str(target))
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("status", "error", "calls"),
    [
        (404, RunwareAPIError, 1),
        (403, RunwareAPIError, 1),
        (503, RunwareTransientError, 2),
        (429, RunwareTransientError, 2),
    ],
)
def test_a_refused_download_saves_nothing_and_only_server_faults_are_retried(
    hook: RunwareHook, tmp_path: Path, status: int, error: type[Exception], calls: int
) -> None:
    target = tmp_path / "video.mp4"
    with respx.mock:
        route = respx.get(VIDEO_URL).mock(return_value=httpx.Response(status, content=b"<html>no</html>"))
        with pytest.raises(error):
            hook.download(VIDEO_URL, str(target))
    assert route.call_count == calls
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_on_the_video_download_is_retried_and_the_video_saved(
    hook: RunwareHook, tmp_path: Path, status: int
) -> None:
    target = tmp_path / "video.mp4"
    with respx.mock:
        route = respx.get(VIDEO_URL).mock(
            side_effect=[
                httpx.Response(status, content=b"<html>oops</html>"),
                httpx.Response(200, content=b"V" * 1000),
            ]
        )
        assert hook.download(VIDEO_URL, str(target)) == 1000
    assert route.call_count == 2
    assert target.read_bytes() == b"V" * 1000


def test_httpx_request_lines_show_a_signed_url_without_its_signature(
    hook: RunwareHook, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx logs each request's URL at INFO; where Airflow leaves that level on (2.11), a
    # presigned videoURL would put its credentials in the task log.
    signed = f"{VIDEO_URL}?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=SIGNATURE0123456789"
    with respx.mock, caplog.at_level("INFO", logger="httpx"):
        respx.get(VIDEO_URL).mock(return_value=httpx.Response(200, content=b"\x00video"))
        hook.download(signed, str(tmp_path / "v.mp4"))
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(f"GET {VIDEO_URL}?..." in line for line in lines), lines  # the line is still there
    assert not any("SIGNATURE0123456789" in line or "AKIAEXAMPLE" in line for line in lines)
