"""Fixtures for the security tests: a scripted Runware that also takes uploads, allowed roots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync.paths import CONFIG_ENV
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import API_KEY as EMULATOR_KEY
from ..operators import conftest as operators_conftest
from ..operators.conftest import BASE_URL, SUCCESS, FakeRunware

#: The operators' ``runware_default`` connection fixture, shared.
runware_conn = operators_conftest.runware_conn


class UploadingRunware(FakeRunware):
    """:class:`FakeRunware` that also stores ``mediaStorage`` uploads (and remembers their bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[str] = []
        #: The respx router of the test: add routes here, never to respx's global one.
        self.router: respx.MockRouter | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # a streamed upload body must be read before it is inspected
        tasks = json.loads(body)
        if tasks and tasks[0].get("taskType") == "mediaStorage":
            task = tasks[0]
            self.tasks.append({"taskType": "mediaStorage", "taskUUID": task["taskUUID"]})
            self.uploads.append(task["media"])
            media_uuid = f"00000000-0000-4000-8000-{len(self.uploads):012d}"
            item = {"taskType": "mediaStorage", "taskUUID": task["taskUUID"], "mediaUUID": media_uuid}
            return httpx.Response(200, json={"data": [item]})
        return super().handler(request)


@pytest.fixture
def runware(runware_conn: str) -> Iterator[UploadingRunware]:
    """A scripted Runware on respx: every request is recorded, jobs succeed after one poll."""
    fake = UploadingRunware()
    fake.script = [{"status": "processing"}, SUCCESS]
    with respx.mock(assert_all_called=False) as mock:
        fake.router = mock
        mock.post(BASE_URL).mock(side_effect=fake.handler)
        mock.get(SUCCESS["videoURL"]).mock(return_value=httpx.Response(200, content=b"\x00video" * 100))
        yield fake


@pytest.fixture
def allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder the deployment allows (``[sync] allowed_media_roots``); nothing else is."""
    root = tmp_path / "allowed"
    root.mkdir()
    monkeypatch.setenv(CONFIG_ENV, str(root))
    return root


@pytest.fixture
def emu(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator with a quickly retrying ``runware_default`` connection."""
    conn: dict[str, Any] = {
        "conn_type": "runware",
        "host": emulator.base_url,
        "password": EMULATOR_KEY,
        "extra": {"timeout": 2.0, "max_attempts": 6, "retry_min_wait": 0.05, "retry_max_wait": 0.2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    return emulator
