"""Where the worker and Runware may be sent (issue 17, point 7).

The video download checks every redirect hop before requesting it; ``webhook_url`` and
``upload_endpoint`` are checked against the connection before anything is sent: plain http
and loopback only with an emulator on loopback, never a private or link-local address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.exceptions import RunwareAPIError, SyncValidationError
from airflow_provider_sync.hooks.runware import MAX_REDIRECTS, RunwareHook
from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.url_checks import url_problem

from ..operators.conftest import BASE_URL, FakeTI
from .conftest import UploadingRunware

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"
VIDEO_URL = "https://im.runware.test/video/v-1.mp4"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
#: The endpoints the issue reproduced being sent to the real API under the deployment's key.
BAD_ENDPOINTS = ("http://127.0.0.1:6379/", "https://169.254.169.254/", "https://10.0.0.5/")


@pytest.mark.parametrize(
    ("url", "real_api", "emulator"),
    [
        ("https://cdn.runware.ai/v/1.mp4", True, True),
        ("https://93.184.216.34/v.mp4", True, True),  # a public address literal
        ("http://cdn.runware.ai/v/1.mp4", False, False),
        ("http://127.0.0.1:8765/media/x.mp4", False, True),
        ("https://127.0.0.1/x", False, True),
        ("https://localhost/x", False, True),
        ("https://api.localhost/x", False, True),
        ("https://[::1]/x", False, True),
        ("https://2130706433/x", False, True),  # 127.0.0.1 in decimal
        ("https://169.254.169.254/latest", False, False),
        ("https://[fe80::1]/x", False, False),
        ("https://[fd00:ec2::254]/x", False, False),
        ("https://[::ffff:169.254.169.254]/x", False, False),
        ("https://2852039166/x", False, False),  # 169.254.169.254 in decimal
        ("https://0xa9fea9fe/x", False, False),
        ("https://169.254.169.254./x", False, False),
        ("https://10.0.0.5/x", False, False),
        ("https://172.16.3.4/x", False, False),
        ("https://192.168.1.1/x", False, False),
        ("https://100.100.100.200/x", False, False),
        ("https://0.0.0.0/x", False, False),
        ("ftp://cdn.runware.ai/x", False, False),
        ("https:///nohost", False, False),
        ("javascript:alert(1)", False, False),
    ],
)
def test_which_urls_may_leave_the_deployment(url: str, real_api: bool, emulator: bool) -> None:
    assert (url_problem(url, api_on_loopback=False) is None) is real_api
    assert (url_problem(url, api_on_loopback=True) is None) is emulator


# ---------------------------------------------------------------- the video download


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunwareHook]:
    conn = {
        "conn_type": "runware",
        "host": BASE_URL,
        "password": "k",
        "extra": {"max_attempts": 3, "retry_min_wait": 0.01, "retry_max_wait": 0.02},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    made = RunwareHook()
    yield made
    made.close()


@pytest.mark.parametrize(
    "location",
    [
        METADATA,
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/internal.mp4",
        "http://cdn2.runware.test/v.mp4",
        "https://127.0.0.1:6379/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_a_forbidden_place_is_refused_and_nothing_is_saved(
    hook: RunwareHook, tmp_path: Path, location: str
) -> None:
    target = tmp_path / "out" / "video.mp4"
    with respx.mock(assert_all_called=False) as mock:
        first = mock.get(VIDEO_URL).mock(return_value=httpx.Response(302, headers={"Location": location}))
        forbidden = mock.route(url__startswith=location.split("?")[0][:25]).mock(
            return_value=httpx.Response(200, content=b"secret-credentials")
        )
        with pytest.raises(RunwareAPIError) as err:
            hook.download(VIDEO_URL, str(target), task_uuid="job-1")
    assert err.value.code == "unsafeVideoURL"
    assert err.value.task_uuid == "job-1"
    assert first.call_count == 1  # refused at once: not retried
    assert forbidden.call_count == 0  # the forbidden place was never asked
    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_every_hop_of_a_redirect_chain_is_checked(hook: RunwareHook, tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    hop2 = "https://cdn2.runware.test/a/v.mp4?sig=1"
    with respx.mock(assert_all_called=False) as mock:
        mock.get(VIDEO_URL).mock(return_value=httpx.Response(301, headers={"Location": hop2}))
        # A relative redirect on the second hop, then a third hop to the metadata service.
        mock.get(hop2).mock(return_value=httpx.Response(307, headers={"Location": "/b/v.mp4"}))
        mock.get("https://cdn2.runware.test/b/v.mp4").mock(
            return_value=httpx.Response(302, headers={"Location": METADATA})
        )
        leak = mock.get(METADATA).mock(return_value=httpx.Response(200, content=b"secret"))
        with pytest.raises(RunwareAPIError, match=r"169\.254\.169\.254"):
            hook.download(VIDEO_URL, str(target))
    assert leak.call_count == 0
    assert not target.exists()


def test_allowed_redirects_are_followed_to_the_video(hook: RunwareHook, tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    with respx.mock(assert_all_called=True) as mock:
        mock.get(VIDEO_URL).mock(
            return_value=httpx.Response(302, headers={"Location": "https://cdn2.runware.test/v.mp4"})
        )
        mock.get("https://cdn2.runware.test/v.mp4").mock(return_value=httpx.Response(200, content=b"video"))
        assert hook.download(VIDEO_URL, str(target)) == 5
    assert target.read_bytes() == b"video"


def test_a_redirect_loop_ends(hook: RunwareHook, tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(VIDEO_URL).mock(return_value=httpx.Response(302, headers={"Location": VIDEO_URL}))
        with pytest.raises(RunwareAPIError, match="redirected more than"):
            hook.download(VIDEO_URL, str(tmp_path / "v.mp4"))
    assert route.call_count == MAX_REDIRECTS + 1
    assert not (tmp_path / "v.mp4").exists()


def test_a_server_error_on_the_download_is_retried(hook: RunwareHook, tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(VIDEO_URL).mock(
            side_effect=[httpx.Response(500), httpx.Response(503), httpx.Response(200, content=b"video")]
        )
        assert hook.download(VIDEO_URL, str(target)) == 5
    assert route.call_count == 3
    assert target.read_bytes() == b"video"


# ---------------------------------------------------------------- webhook_url / upload_endpoint


def _operator(**kwargs: Any) -> SyncLipsyncOperator:
    return SyncLipsyncOperator(
        task_id="lipsync", video=VIDEO, audio=AUDIO, deferrable=False, poll_interval=0.01, **kwargs
    )


@pytest.mark.parametrize("param", ["webhook_url", "upload_endpoint"])
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_callback_endpoints_on_the_deployment_s_network_are_refused_for_the_real_api(
    runware: UploadingRunware, param: str, endpoint: str
) -> None:
    # Templated, so only the execute-time check (against the connection) can stop it.
    op = _operator(**{param: "{{ params.endpoint }}"})
    op.render_template_fields({"params": {"endpoint": endpoint}})  # type: ignore[arg-type]
    with pytest.raises(SyncValidationError, match=param) as err:
        op.execute({"ti": FakeTI()})  # type: ignore[arg-type]
    assert runware.tasks == []  # refused before any request
    assert "API key" in str(err.value)


@pytest.mark.integration
@pytest.mark.parametrize("param", ["webhook_url", "upload_endpoint"])
def test_against_an_emulator_on_loopback_only_loopback_endpoints_pass(
    emulator: EmulatorServer, param: str
) -> None:
    from airflow_provider_sync.url_checks import check_callback_target

    loopback, *private = BAD_ENDPOINTS
    for endpoint in private:
        op = _operator(**{param: "{{ params.endpoint }}"})
        op.render_template_fields({"params": {"endpoint": endpoint}})  # type: ignore[arg-type]
        with pytest.raises(SyncValidationError, match=param):
            op.execute({"ti": FakeTI(run_id=f"private-{param}")})  # type: ignore[arg-type]
    assert emulator.admin.submissions() == []
    check_callback_target(loopback, param, emulator.base_url)  # where the API is on loopback too
    with pytest.raises(SyncValidationError, match=param):
        check_callback_target(loopback, param, "https://api.runware.ai/v1")
    if param == "webhook_url":
        # And the whole way through: the job is submitted with it and renders.
        op = _operator(webhook_url=loopback)
        result = op.execute({"ti": FakeTI(run_id="loopback-hook")})  # type: ignore[arg-type]
        assert result["status"] == "success"
        sent = [t for t in emulator.admin.requests_tasks() if t.get("taskType") == "videoInference"]
        assert [t.get("webhookURL") for t in sent] == [loopback]
