"""Lip-sync a video to text-to-speech: Runware voices the script, Sync moves the lips.

The script and voice come from the run's conf, e.g.
``{"text": "Bienvenue à tous.", "voice_id": "21m00Tcm4TlvDq8ikWAM"}``.
"""

from __future__ import annotations

# --8<-- [start:example_sync_speech]
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(
    dag_id="example_sync_speech",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "text": Param("Welcome to our presentation about artificial intelligence.", type="string"),
        "voice_provider": Param("elevenlabs", type="string"),
        "voice_id": Param("21m00Tcm4TlvDq8ikWAM", type="string"),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_speech]
    SyncLipsyncOperator(
        task_id="speak",
        video="{{ params.video }}",
        speech=[
            {
                "id": "dialogue-1",
                "provider": {"name": "{{ params.voice_provider }}", "voiceId": "{{ params.voice_id }}"},
                "text": "{{ params.text }}",
            }
        ],
        sync_mode="bounce",
        poll_interval="{{ params.poll_interval }}",
    )
    # --8<-- [end:howto_operator_sync_speech]
# --8<-- [end:example_sync_speech]
