"""``segments``, ``speech`` and ``audio`` from a templated ``.json`` file next to the DAG.

A real DAG file in a DAGs folder, its JSON files beside it, run with ``dag.test()`` against
the emulator: the files are rendered with Jinja (params, run values), parsed, and sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.testing.dags import run_dag
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

pytestmark = pytest.mark.integration

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
PART_1 = "32754c50-4506-4b37-87a7-fdb75a7a55df"
PART_2 = "b4f87ba1-df22-4606-a60f-c1d5467e5bf0"

DAG_FILE = """
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(
    dag_id="dub_from_files",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params={"cut": Param(3, type="number"), "voice": Param("voice-fr-1", type="string")},
) as dag:
    SyncLipsyncOperator(
        task_id="dub",
        video="%(video)s",
        audio="audio/fr.json",
        speech="speech/outro.json-tpl",
        segments="segments/fr.json",
        poll_interval=0.2,
        # A webhook URL ending in .json is a URL, not a file to read.
        webhook_url="http://127.0.0.1:9/hooks/done.json",
    )
"""

AUDIO = [
    {"id": "part-1", "source": PART_1},
    {"id": "part-2", "source": "{{ '" + PART_2 + "' }}"},  # rendered too
]
SEGMENTS = """[
  {% for ref in ["part-1", "part-2"] %}
  {"startTime": {{ loop.index0 * params.cut }}, "endTime": {{ loop.index * params.cut }}, "ref": "{{ ref }}"},
  {% endfor %}
  {"startTime": {{ 2 * params.cut }}, "endTime": {{ 3 * params.cut }}, "ref": "outro"}
]"""
# A speech text ending in ".json" stays text: only the parameter's whole value names a file.
SPEECH = """[{"id": "outro", "provider": {"name": "elevenlabs", "voiceId": "{{ params.voice }}"},
  "text": "Read the notes in settings.json"}]"""


@pytest.fixture
def dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> Path:
    folder = tmp_path / "dags"
    for name, text in {
        "dub_from_files.py": DAG_FILE.replace("%(video)s", VIDEO),
        "audio/fr.json": json.dumps(AUDIO),
        "segments/fr.json": SEGMENTS,
        "speech/outro.json-tpl": SPEECH,
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    # dag.test() runs DAGs of the configured bundles: add this folder as one (read per call).
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {
            "name": "template-files",
            "classpath": local,
            "kwargs": {"path": str(folder), "refresh_interval": 0},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    return folder


def test_segments_speech_and_audio_are_read_from_templated_files(
    emulator: EmulatorServer, dags: Path
) -> None:
    dag = load_dag(dags / "dub_from_files.py")
    result = run_dag(dag, {"cut": 2.5}, deferrable=False)
    assert result.state == "success", result.tasks
    [sent] = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert sent["inputs"]["audio"] == [{"id": "part-1", "source": PART_1}, {"id": "part-2", "source": PART_2}]
    assert sent["inputs"]["speech"] == [
        {
            "id": "outro",
            "provider": {"name": "elevenlabs", "voiceId": "voice-fr-1"},
            "text": "Read the notes in settings.json",
        }
    ]
    assert sent["providerSettings"]["sync"]["segments"] == [
        {"startTime": 0, "endTime": 2.5, "ref": "part-1"},
        {"startTime": 2.5, "endTime": 5.0, "ref": "part-2"},
        {"startTime": 5.0, "endTime": 7.5, "ref": "outro"},
    ]
    assert sent["webhookURL"] == "http://127.0.0.1:9/hooks/done.json"


def test_a_file_whose_content_is_invalid_fails_before_anything_is_sent(
    emulator: EmulatorServer, dags: Path
) -> None:
    (dags / "segments" / "fr.json").write_text('[{"startTime": 4, "endTime": 1, "ref": "part-1"}]')
    dag = load_dag(dags / "dub_from_files.py")
    result = run_dag(dag, deferrable=False)
    assert result.state == "failed"
    assert emulator.admin.requests_tasks() == []


def test_a_file_name_is_not_a_value_checked_when_the_dag_is_parsed(dags: Path) -> None:
    # The name is not a segment list: it is read when the task runs, so parsing succeeds.
    load_dag(dags / "dub_from_files.py")
    # A literal list next to it is still checked.
    text = (dags / "dub_from_files.py").read_text()
    bad = text.replace("poll_interval=0.2,", 'poll_interval=0.2, sync_mode="remapp",')
    (dags / "bad.py").write_text(bad.replace("dub_from_files", "bad_dub"))
    with pytest.raises(SyncValidationError, match="sync_mode"):
        load_dag(dags / "bad.py")
