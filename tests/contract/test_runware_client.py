"""Runware's own client as a second contract (PyPI ``runware-sdk`` 1.8.0, generated from
Runware's schema bundle): every request we build matches the request type it declares for the
model, and the client, pointed at the emulator over REST, runs every model, speech, segments
and media upload/delete end to end."""

from __future__ import annotations

import asyncio
import base64
import typing
import uuid
from collections.abc import Iterator
from typing import Any, Literal, get_args, get_origin

import pytest
from typing_extensions import NotRequired

from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import fresh
from .built_requests import every_request, full_option_requests

runware = pytest.importorskip("runware", reason="runware-sdk needs Python 3.11+ (the dev extra installs it)")
task_map = pytest.importorskip("runware.types.task_map")

KEY = "runware-sdk-contract-key"
REQUESTS = every_request()
#: Where our request knowingly differs from runware-sdk 1.8.0's declared type, and why.
#: sync-3's page (Compatibility & Validation) names a top-level ``speech``, and Runware's
#: runware-python 1.4.0 declared it (for ``sync:lipsync@3``); runware-sdk 1.8.0's Sync3Params
#: does not. See docs/protocol.md.
KNOWN_DIFFERENCES = {("sync:3@0", "speech")}


def declared_type(model: str) -> type:
    """The ``...Params`` TypedDict runware-sdk declares for ``model``."""
    for value in vars(task_map).values():
        if (
            isinstance(value, type)
            and value.__name__.endswith("Params")
            and hasattr(value, "__annotations__")
        ):
            hints = typing.get_type_hints(value, include_extras=True)
            declared = hints.get("model")
            if declared is not None and get_origin(declared) is Literal and get_args(declared) == (model,):
                return value
    raise AssertionError(f"runware-sdk declares no request type for {model}")


def _matches(value: Any, hint: Any) -> bool:
    if get_origin(hint) is NotRequired:
        hint = get_args(hint)[0]
    origin = get_origin(hint)
    if origin is Literal:
        return value in get_args(hint)
    if origin is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    raise AssertionError(f"unexpected declared type {hint!r}")


def problems(request: dict[str, Any]) -> list[str]:
    declared = declared_type(str(request["model"]))
    hints = typing.get_type_hints(declared, include_extras=True)
    found = []
    for key, value in request.items():
        if key not in hints:
            if (request["model"], key) not in KNOWN_DIFFERENCES:
                found.append(f"{key}: not declared by {declared.__name__}")
        elif not _matches(value, hints[key]):
            found.append(f"{key}: {value!r} is not {hints[key]!r}")
    for key, hint in hints.items():
        if get_origin(hint) is not NotRequired and key not in request:
            found.append(f"{key}: required by {declared.__name__}")
    return found


@pytest.mark.parametrize(("name", "request_"), REQUESTS, ids=[name for name, _r in REQUESTS])
def test_every_request_we_build_matches_the_clients_declared_type(
    name: str, request_: dict[str, Any]
) -> None:
    assert problems(request_) == []


def test_the_declared_types_catch_a_renamed_or_misplaced_field() -> None:
    full = dict(full_option_requests())
    sync3 = full["sync-3-audio"]
    assert problems({**sync3, "providerSettings": sync3["settings"]}) == [
        "providerSettings: not declared by Sync3Params"
    ]
    older = full["lipsync-2"]
    assert problems({**older, "settings": {}}) == ["settings: not declared by SyncLipsync2Params"]
    assert problems({k: v for k, v in older.items() if k != "inputs"}) == [
        "inputs: required by SyncLipsync2Params"
    ]
    assert problems({**older, "ttl": "3600"}) != []


def test_the_known_differences_are_still_differences() -> None:
    # When runware-sdk declares sync-3's speech, this fails: drop the exception above.
    for model, key in KNOWN_DIFFERENCES:
        assert key not in typing.get_type_hints(declared_type(model))


# ------------------------------------------------------------------ the client against the emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=[KEY], render_seconds=0.2, output="metadata", seed=11) as server:
        yield server


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _client_run(base_url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with runware.Runware(
        api_key=KEY, transport="rest", http_base_url=base_url, max_retries=0
    ) as client:
        return list(await client.run(params))


def submitted(emulator: EmulatorServer, task_uuid: str) -> dict[str, Any]:
    for entry in emulator.admin.requests():
        for task in entry.get("tasks") or []:
            if task.get("taskUUID") == task_uuid and task.get("taskType") == "videoInference":
                return dict(task)
    raise AssertionError(f"the emulator saw no videoInference {task_uuid}")


CLIENT_CASES = dict(full_option_requests())


@pytest.mark.parametrize(
    "name", ["lipsync-2", "lipsync-2-pro", "react-1", "sync-3-audio", "sync-3-speech", "sync-3-segments"]
)
def test_runwares_client_runs_our_request_for_every_model_against_the_emulator(
    emulator: EmulatorServer, name: str
) -> None:
    fresh(emulator)
    ours = {k: v for k, v in CLIENT_CASES[name].items() if k not in ("uploadEndpoint", "webhookURL")}
    ours["taskUUID"] = str(uuid.uuid4())
    results = run(_client_run(emulator.base_url, ours))
    assert len(results) == 1
    assert results[0]["taskUUID"] == ours["taskUUID"]
    assert results[0]["videoURL"].startswith(emulator.base_url.removesuffix("/v1") + "/media/")
    assert results[0]["cost"] > 0
    # What the client sent is, key for key, what our operator builds.
    assert submitted(emulator, ours["taskUUID"]) == ours


def test_runwares_client_gets_the_emulators_refusal_of_a_bad_sync3_request(emulator: EmulatorServer) -> None:
    fresh(emulator)
    bad = {
        **CLIENT_CASES["sync-3-audio"],
        "taskUUID": str(uuid.uuid4()),
        "speech": {"text": "t", "voice": "v"},
    }
    bad = {k: v for k, v in bad.items() if k not in ("uploadEndpoint", "webhookURL")}
    with pytest.raises(runware.RunwareError) as raised:
        run(_client_run(emulator.base_url, bad))
    assert "exactly one of" in str(raised.value)
    assert emulator.admin.submissions() == []


def test_runwares_client_uploads_and_deletes_media_on_the_emulator(emulator: EmulatorServer) -> None:
    fresh(emulator)
    wav = base64.b64encode(b"RIFF" + b"\0" * 64).decode()

    async def upload_then_delete() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with runware.Runware(
            api_key=KEY, transport="rest", http_base_url=emulator.base_url, max_retries=0
        ) as client:
            stored = list(
                await client.media_storage({"operation": "upload", "media": f"data:audio/wav;base64,{wav}"})
            )
            deleted = list(
                await client.media_storage({"operation": "delete", "media": stored[0]["mediaUUID"]})
            )
            return stored, deleted

    stored, deleted = run(upload_then_delete())
    assert stored[0]["mediaURL"].startswith(emulator.base_url.removesuffix("/v1") + "/media/")
    assert deleted[0] == {**deleted[0], "operation": "delete", "mediaUUID": stored[0]["mediaUUID"]}


def test_runwares_client_gets_as_many_videos_as_number_results_asks(emulator: EmulatorServer) -> None:
    fresh(emulator)
    ours = {k: v for k, v in CLIENT_CASES["lipsync-2"].items() if k not in ("uploadEndpoint", "webhookURL")}
    ours = {**ours, "taskUUID": str(uuid.uuid4()), "numberResults": 2}

    async def two() -> list[dict[str, Any]]:
        async with runware.Runware(
            api_key=KEY, transport="rest", http_base_url=emulator.base_url, max_retries=0, poll_timeout=8_000
        ) as client:
            return list(await client.run(ours))

    results = run(two())
    assert len({r["videoUUID"] for r in results}) == 2


def test_an_upload_answer_names_its_operation_as_runwares_client_declares(emulator: EmulatorServer) -> None:
    fresh(emulator)

    async def upload() -> list[dict[str, Any]]:
        async with runware.Runware(
            api_key=KEY, transport="rest", http_base_url=emulator.base_url, max_retries=0
        ) as client:
            data = base64.b64encode(b"RIFF" + b"\0" * 64).decode()
            return list(
                await client.media_storage({"operation": "upload", "media": f"data:audio/wav;base64,{data}"})
            )

    [stored] = run(upload())
    assert stored["operation"] == "upload"
