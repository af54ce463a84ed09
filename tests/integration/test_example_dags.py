"""Each example DAG, run with dag.test() against the emulator, deferred and polling in the worker."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer

from ..contract.built_requests import page_errors
from ..dag_fixtures import RunDag

pytestmark = pytest.mark.integration

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "example_sync_lipsync.py",
        "lipsync",
        {"sync_mode": "loop", "temperature": 0.25, "output_format": "WEBM"},
        {
            "model": "sync:lipsync-2@1",
            "outputFormat": "WEBM",
            "providerSettings": {
                "sync": {"syncMode": "loop", "temperature": 0.25, "activeSpeakerDetection": True}
            },
        },
    ),
    (
        "example_sync_lipsync_pro.py",
        "lipsync_pro",
        {"output_format": "MOV", "output_quality": 80},
        {
            "model": "sync:lipsync-2-pro@1",
            "outputFormat": "MOV",
            "outputQuality": 80,
            "providerSettings": {
                "sync": {"syncMode": "bounce", "temperature": 0.3, "occlusionDetectionEnabled": True}
            },
        },
    ),
    (
        "example_sync_react.py",
        "react",
        {"emotion": "surprised", "edit_region": "head"},
        {
            "model": "sync:react-1@1",
            "providerSettings": {
                "sync": {
                    "syncMode": "bounce",
                    "temperature": 0.7,
                    "editRegion": "head",
                    "emotionPrompt": "surprised",
                }
            },
        },
    ),
    (
        "example_sync_speech.py",
        "speak",
        {"text": "Bonjour et bienvenue.", "voice_id": "voice-fr-1"},
        {
            "model": "sync:lipsync-2@1",
            "inputs": {
                "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
                "speech": [
                    {
                        "id": "dialogue-1",
                        "provider": {"name": "elevenlabs", "voiceId": "voice-fr-1"},
                        "text": "Bonjour et bienvenue.",
                    }
                ],
            },
        },
    ),
    (
        "example_sync_segments.py",
        "dub_segments",
        {
            "segments": [
                {"start_time": 0, "end_time": 2.5, "ref": "part-2"},
                {"startTime": 3, "endTime": 6, "ref": "part-1"},
            ]
        },
        {
            "providerSettings": {
                "sync": {
                    "segments": [
                        {"startTime": 0, "endTime": 2.5, "ref": "part-2"},
                        {"startTime": 3, "endTime": 6, "ref": "part-1"},
                    ]
                }
            },
        },
    ),
    (
        "example_sync_sync3.py",
        "sync3",
        {"audio": None, "text": "Bonjour et bienvenue.", "voice": "voice-fr-1", "edit_region": "head"},
        {
            "model": "sync:3@0",
            # sync-3's own shape: one top-level speech and settings, no providerSettings.
            "inputs": {"video": "c64351d5-4c59-42f7-95e1-eace013eddab"},
            "speech": {"text": "Bonjour et bienvenue.", "voice": "voice-fr-1"},
            "settings": {
                "syncMode": "cut_off",
                "mode": "head",
                "occlusionDetection": True,
                "activeSpeakerDetection": {"autoDetect": True},
            },
        },
    ),
]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
@pytest.mark.parametrize(("dag_file", "task_id", "conf", "expected"), CASES, ids=[c[0][:-3] for c in CASES])
def test_example_dag_runs_end_to_end(
    emulator: EmulatorServer,
    run_dag: RunDag,
    trigger_runs: list[str],
    dag_file: str,
    task_id: str,
    conf: dict[str, Any],
    expected: dict[str, Any],
    deferrable: bool,
) -> None:
    runs = trigger_runs

    result = run_dag(dag_file, conf, deferrable=deferrable)

    assert result.state == "success", result.tasks
    out = result.xcom[task_id]
    submissions = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert len(submissions) == 1
    [sent] = submissions
    assert out["task_uuid"] == sent["taskUUID"]
    assert out["status"] == "success"
    job = emulator.admin.job(sent["taskUUID"])
    assert out["video_url"] == job["videoURL"]
    assert out["video_uuid"] == job["videoUUID"]
    assert out["cost"] == pytest.approx(job["cost"])
    assert out["cost"] > 0
    assert sent["deliveryMethod"] == "async"
    for key, value in expected.items():
        assert sent[key] == value, key
    # Every request an example sends holds to its model's Runware page (tests/contract).
    assert page_errors(sent) == []
    # Deferred runs wait in the trigger; worker-polling runs never build one.
    assert runs == ([sent["taskUUID"]] if deferrable else [])
    assert result.xcom_key("task_uuid") == {task_id: sent["taskUUID"]}
