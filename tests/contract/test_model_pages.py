"""Runware's model pages are the contract: every request the package builds validates against
its model's JSON schema (``tests/fixtures/runware/models``, each naming its sources and the date
read), and the contract fails when a field is renamed."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from .built_requests import PAGES, every_request, page_errors, seed_page_requests

REQUESTS = every_request()


errors = page_errors


def test_each_model_page_fixture_names_its_sources_and_date() -> None:
    assert set(PAGES) == {"sync:lipsync-2@1", "sync:lipsync-2-pro@1", "sync:react-1@1", "sync:3@0"}
    for page in PAGES.values():
        jsonschema.Draft202012Validator.check_schema(page["schema"])
        assert page["page"].startswith("https://runware.ai/docs/models/")
        assert page["read"] == "2026-12-02"
        assert page["found"], "say what of the page was found and what was not"
        assert all(p["source"].strip() for p in page["parameters"])


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        if isinstance(sub, dict):
            paths |= _schema_paths(sub, f"{path}.")
            items = sub.get("items")
            if isinstance(items, dict):
                paths |= _schema_paths(items, f"{path}[].")
    return paths


@pytest.mark.parametrize("model", sorted(PAGES))
def test_every_field_of_a_schema_is_in_the_parameter_list_with_its_source(model: str) -> None:
    page = PAGES[model]
    listed = {p["path"] for p in page["parameters"]}
    for path in _schema_paths(page["schema"]):
        # A field is listed itself, or as part of its parent's description.
        parents = [path.rsplit(".", n)[0] for n in range(path.count(".") + 1)]
        assert any(parent in listed or parent.removesuffix("[]") in listed for parent in parents), path


@pytest.mark.parametrize(("name", "request_"), REQUESTS, ids=[name for name, _r in REQUESTS])
def test_every_request_we_build_validates_against_its_model_page(name: str, request_: dict[str, Any]) -> None:
    assert errors(request_) == []


def test_the_requests_cover_every_example_dag_every_seed_example_and_every_model() -> None:
    names = [name for name, _r in REQUESTS]
    for dag in (
        "example_sync_lipsync.",
        "example_sync_lipsync_pro.",
        "example_sync_react.",
        "example_sync_segments.",
        "example_sync_speech.",
        "example_sync_speech_to_react.",
        "example_sync_fanout.",
        "example_sync_sync3.",
        "example_sync_submit_then_wait.",
    ):
        assert any(n.startswith(dag) for n in names), dag
    assert sum(n.startswith("seed-") for n in names) == 9
    assert {r["model"] for _n, r in REQUESTS} == set(PAGES)


def test_the_seed_pages_examples_validate_except_the_one_that_writes_audios() -> None:
    # The provider page writes inputs.audio in its prose and most examples; one example writes
    # audios. The model pages name audio; we send audio (docs/protocol.md).
    failing = {name: errors(example) for name, example, _built in seed_page_requests() if errors(example)}
    assert list(failing) == ["seed-0-sync:lipsync-2@1"]
    assert any("'audios' was unexpected" in e for e in failing["seed-0-sync:lipsync-2@1"])


def _rename(request: dict[str, Any], path: list[str], new: str) -> dict[str, Any]:
    renamed = copy.deepcopy(request)
    parent = renamed
    for key in path[:-1]:
        parent = parent[key]
    parent[new] = parent.pop(path[-1])
    return renamed


FULL = dict(REQUESTS)


@pytest.mark.parametrize(
    ("request_name", "path", "new"),
    [
        ("full-lipsync-2", ["providerSettings", "sync", "syncMode"], "sync_mode"),
        ("full-lipsync-2", ["inputs", "audio"], "audios"),
        ("full-lipsync-2", ["ttl"], "timeToLive"),
        ("full-react-1", ["providerSettings", "sync", "editRegion"], "mode"),
        ("full-sync-3-speech", ["settings", "mode"], "editRegion"),
        ("full-sync-3-speech", ["settings", "occlusionDetection"], "occlusionDetectionEnabled"),
        ("full-sync-3-speech", ["speech", "voice"], "voiceId"),
        ("full-sync-3-segments", ["settings", "activeSpeakerDetection", "boundingBoxes"], "bounding_boxes"),
        ("full-sync-3-speech", ["settings"], "providerSettings"),
        ("full-sync-3-audio", ["safety", "checkContent"], "check_content"),
    ],
)
def test_the_contract_fails_when_a_field_is_renamed(request_name: str, path: list[str], new: str) -> None:
    assert errors(FULL[request_name]) == []
    assert errors(_rename(FULL[request_name], path, new)) != []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"speech": {"text": "t", "voice": "v"}}, "is not valid under any of the given schemas"),
        ({"settings": {"tts": {"stability": 0.5}}}, "'speech' is a required property"),
        (
            {
                "settings": {
                    "activeSpeakerDetection": {
                        "boundingBoxes": [None],
                        "coordinates": [1, 1],
                        "frameNumber": 0,
                    }
                }
            },
            "should not be valid",
        ),
        ({"settings": {"activeSpeakerDetection": {"coordinates": [1, 1]}}}, "'frameNumber' is a dependency"),
    ],
)
def test_the_sync3_schema_holds_the_pages_rules(change: dict[str, Any], fragment: str) -> None:
    request = {**FULL["full-sync-3-audio"], **change}
    found = errors(request)
    assert any(fragment in e for e in found), found
