"""Re-act a performance with ``react-1``: new audio, a chosen emotion and edit region.

Choose the acting per run: ``{"emotion": "surprised", "edit_region": "head"}``.
"""

from __future__ import annotations

# --8<-- [start:example_sync_react]
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncReactOperator

with DAG(
    dag_id="example_sync_react",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "audio": Param("b4c57832-2075-492b-bf89-9b5e3ac02503", type="string"),
        "emotion": Param("happy", enum=["happy", "sad", "angry", "disgusted", "surprised", "neutral"]),
        "edit_region": Param("face", enum=["lips", "face", "head"]),
        "temperature": Param(0.7, type="number", minimum=0, maximum=1),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_react]
    SyncReactOperator(
        task_id="react",
        video="{{ params.video }}",
        audio=[{"id": "new-performance", "source": "{{ params.audio }}"}],
        sync_mode="bounce",
        temperature="{{ params.temperature }}",
        edit_region="{{ params.edit_region }}",
        emotion_prompt="{{ params.emotion }}",
        poll_interval="{{ params.poll_interval }}",
    )
    # --8<-- [end:howto_operator_sync_react]
# --8<-- [end:example_sync_react]
