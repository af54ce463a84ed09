"""Every full ``videoInference`` example on the vendor's Sync page, rebuilt with the operators.

The examples (JSON only) are copied from ``runware-sync-models.txt`` into
``tests/fixtures/spec_examples.json``. We send two fields the examples leave out
(``deliveryMethod: "async"``, ``includeCost: true``) and write the audio list as ``audio``
where one example says ``audios`` (see docs/protocol.md); nothing else may differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator

EXAMPLES = json.loads((Path(__file__).parent.parent / "fixtures" / "spec_examples.json").read_text())

_SETTING_PARAMS = {
    "syncMode": "sync_mode",
    "temperature": "temperature",
    "activeSpeakerDetection": "active_speaker_detection",
    "occlusionDetectionEnabled": "occlusion_detection_enabled",
    "segments": "segments",
    "editRegion": "edit_region",
    "emotionPrompt": "emotion_prompt",
}


def operator_for(example: dict[str, Any]) -> SyncLipsyncOperator | SyncReactOperator:
    """Write the operator a DAG author would write for this example."""
    inputs = example["inputs"]
    kwargs: dict[str, Any] = {
        "task_id": "example",
        "model": example["model"].removeprefix("sync:").removesuffix("@1"),
        "video": inputs["video"],
        "audio": inputs.get("audio", inputs.get("audios")),
        "speech": inputs.get("speech"),
    }
    for key, value in example.get("providerSettings", {}).get("sync", {}).items():
        kwargs[_SETTING_PARAMS[key]] = value
    cls = SyncReactOperator if kwargs["model"] == "react-1" else SyncLipsyncOperator
    return cls(**kwargs)


def diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Key-by-key differences, so a failure says which field is off."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{where}: missing")
            elif key not in expected:
                out.append(f"{where}: unexpected {actual[key]!r}")
            else:
                out += diff(expected[key], actual[key], where)
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in diff(e, a, f"{path}[{i}]")
        ]
    return (
        []
        if expected == actual and type(expected) is type(actual)
        else [f"{path}: {expected!r} != {actual!r}"]
    )


def test_the_fixture_holds_every_full_example() -> None:
    assert len(EXAMPLES) == 9
    assert {e["model"] for e in EXAMPLES} == {"sync:lipsync-2@1", "sync:lipsync-2-pro@1", "sync:react-1@1"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["taskUUID"] for e in EXAMPLES])
def test_spec_example_is_reproduced_key_by_key(example: dict[str, Any]) -> None:
    expected = json.loads(json.dumps(example))
    if "audios" in expected["inputs"]:
        expected["inputs"]["audio"] = expected["inputs"].pop("audios")
    expected["deliveryMethod"] = "async"
    expected["includeCost"] = True
    actual = operator_for(example).build_request(task_uuid=example["taskUUID"])
    assert diff(expected, actual) == []
