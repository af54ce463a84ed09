"""Runware's answers as its public docs and clients show them (``tests/fixtures/runware``):
our protocol code reads each one as meant, and the emulator answers the same requests in the
same shape."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_sync import exceptions
from airflow_provider_sync.protocol import ack_for, parse_body, task_state
from airflow_provider_sync.testing.emulator import EmulatorServer

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "runware").glob("*.json"))
KEY = "contract-key-1f0c"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def raw_body(fixture: dict[str, Any]) -> bytes:
    if fixture.get("body") is None:
        return str(fixture.get("raw", "")).encode()
    return json.dumps(fixture["body"]).encode()


def test_every_fixture_names_its_public_source() -> None:
    assert len(FIXTURES) >= 8
    for path in FIXTURES:
        fixture = load(path)
        assert fixture["source"].strip(), path.name
        assert fixture["status"].strip(), path.name
        assert fixture["name"] == path.stem


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_our_protocol_code_reads_the_recorded_answer_as_meant(path: Path) -> None:
    fixture = load(path)
    expect = fixture["expect"]
    task = fixture["request"][0]
    task_uuid = task["taskUUID"]

    def read() -> Any:
        response = parse_body(fixture["http_status"], raw_body(fixture))
        if task["taskType"] == "getResponse":
            return task_state(response, task_uuid)
        return ack_for(response, task_uuid)

    if "raises" in expect:
        with pytest.raises(getattr(exceptions, expect["raises"])) as raised:
            read()
        assert type(raised.value).__name__ == expect["raises"]
        if "code" in expect:
            assert raised.value.code == expect["code"]
        return
    outcome = read()
    if "ack" in expect:
        assert outcome.get(expect["ack"]) is True
        return
    assert outcome.status == expect["state"]
    if "code" in expect:
        assert outcome.error.code == expect["code"]
    if "class" in expect:
        assert type(outcome.error).__name__ == expect["class"]


# ------------------------------------------------------------------------ the emulator


@pytest.fixture(scope="module")
def contract_emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    media = tmp_path_factory.mktemp("contract-media")
    with EmulatorServer(api_keys=[KEY], render_seconds=30, output="metadata", media_dir=media) as server:
        yield server


def post(server: EmulatorServer, tasks: list[dict[str, Any]], key: str = KEY) -> httpx.Response:
    return httpx.post(server.base_url, json=tasks, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def submit(server: EmulatorServer) -> str:
    task_uuid = str(uuid.uuid4())
    job = {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "model": "sync:lipsync-2@1",
        "inputs": {"video": VIDEO, "audio": [{"id": "a", "source": AUDIO}]},
        "includeCost": True,
    }
    assert post(server, [job]).status_code == 200
    return task_uuid


def ask_emulator(server: EmulatorServer, scenario: str) -> httpx.Response:
    """Put the emulator in the fixture's situation, then send the fixture's kind of request."""
    server.admin.reset()
    server.admin.configure(
        render_seconds=30, not_found_style="taskFailedOrNotFound", job_error_style="nested"
    )
    poll = {"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}
    if scenario == "bad-key":
        return post(server, [poll], key="not-the-key")
    if scenario == "unknown-task":
        return post(server, [poll])
    task_uuid = submit(server)
    if scenario == "resubmit":
        job = next(t for t in server.admin.requests_tasks() if t["taskType"] == "videoInference")
        return post(server, [job])
    if scenario == "success":
        server.admin.complete(task_uuid)
    if scenario == "job-error":
        server.admin.fail(task_uuid, "timeoutProvider", "The provider did not finish the job in time")
    return post(server, [{"taskType": "getResponse", "taskUUID": task_uuid}])


def shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys and item shapes, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def assert_covers(recorded: Any, emulated: Any, where: str = "body") -> None:
    """Everything the recorded answer has, the emulator's has too, with the same types."""
    if isinstance(recorded, dict):
        assert isinstance(emulated, dict), f"{where}: {emulated!r} is not an object"
        for key, value in recorded.items():
            assert key in emulated, f"{where}: the emulator's answer lacks {key!r}"
            assert_covers(value, emulated[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(emulated, list), f"{where}: {emulated!r} is not an array"
        assert len(emulated) == len(recorded), f"{where}: {len(emulated)} items, recorded {len(recorded)}"
        for n, (a, b) in enumerate(zip(recorded, emulated, strict=True)):
            assert_covers(a, b, f"{where}[{n}]")
    else:
        numbers = {"int", "float"}
        assert recorded == emulated or {recorded, emulated} <= numbers, f"{where}: {emulated} != {recorded}"


SCENARIOS = [p for p in FIXTURES if load(p).get("scenario")]


@pytest.mark.integration
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_the_emulator_answers_the_same_request_in_the_recorded_shape(
    contract_emulator: EmulatorServer, path: Path
) -> None:
    fixture = load(path)
    answer = ask_emulator(contract_emulator, fixture["scenario"])
    assert answer.status_code == fixture["http_status"]
    recorded = shape(fixture["body"])
    emulated = shape(answer.json())
    for item in recorded.get("data", []) + recorded.get("errors", []):
        item.pop("progress", None)  # optional: "only for tasks that support progress reporting"
    assert_covers(recorded, emulated)
    # And what the emulator said reads the same way as the recorded answer.
    first = fixture["request"][0]
    emulated_item = (answer.json().get("data") or answer.json().get("errors") or [{}])[0]
    if first["taskType"] == "getResponse" and "state" in fixture["expect"] and "taskUUID" in emulated_item:
        state = task_state(parse_body(answer.status_code, answer.content), emulated_item["taskUUID"])
        assert state.status == fixture["expect"]["state"]
