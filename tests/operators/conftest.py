"""Fixtures for operator tests: a mocked Runware endpoint and a minimal task-instance context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

BASE_URL = "http://runware.test/v1"
API_KEY = "sk-operator-test-5f1e"


def outlet_events() -> Any:
    """What Airflow passes as ``outlet_events``: it keys events by the asset's identity on every
    minor, where a dict keyed by ``Asset`` works only from 3.2 (``Asset`` is unhashable before)."""
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2.11
        from airflow.utils.context import OutletEventAccessors  # type: ignore[no-redef]
    return OutletEventAccessors()


@dataclass
class FakeTI:
    """What the operators read from ``context["ti"]``."""

    dag_id: str = "dag"
    run_id: str = "manual__2025-01-01"
    task_id: str = "lipsync"
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def runware_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    conn = {
        "conn_type": "runware",
        "host": BASE_URL,
        "password": API_KEY,
        "extra": {"retry_min_wait": 0.01, "retry_max_wait": 0.02, "max_attempts": 3},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    return "runware_default"


class FakeRunware:
    """A scripted Runware: records every task, answers getResponse from ``states``."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        self.script: list[dict[str, Any]] = []

    @property
    def submissions(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["taskType"] == "videoInference"]

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for task in json.loads(request.content):
            self.tasks.append(task)
            uuid = task["taskUUID"]
            if task["taskType"] == "videoInference":
                self.jobs[uuid] = list(self.script)
                data.append({"taskType": "videoInference", "taskUUID": uuid, "status": "processing"})
            elif uuid not in self.jobs:
                errors.append({"code": "taskNotFound", "taskUUID": uuid, "message": "unknown task"})
            else:
                steps = self.jobs[uuid]
                step = steps.pop(0) if len(steps) > 1 else steps[0]
                if step.get("status") == "error":
                    errors.append({"taskUUID": uuid, "taskType": "videoInference", **step["error"]})
                else:
                    data.append({"taskType": "videoInference", "taskUUID": uuid, **step})
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return httpx.Response(200 if data else 400, json=body)


SUCCESS = {
    "status": "success",
    "videoURL": "https://im.runware.test/video/v-1.mp4",
    "videoUUID": "0f6a3c3e-5f55-4f45-9d6a-4f4a3f0b6b11",
    "cost": 0.264,
    "seed": 42,
}


@pytest.fixture
def fake_runware(runware_conn: str) -> Iterator[FakeRunware]:
    fake = FakeRunware()
    fake.script = [{"status": "processing"}, SUCCESS]
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE_URL).mock(side_effect=fake.handler)
        yield fake
