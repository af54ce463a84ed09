"""Studio-grade lip-sync with ``lipsync-2-pro``, handling hands or props in front of the mouth.

The output file is written in the format and quality asked for in the run's conf, e.g.
``{"output_format": "MOV", "output_quality": 90}``. Each finished render is an event on the
asset ``sync_lipsync_pro_renders``, so a downstream DAG can run on new renders with
``schedule=[Asset("sync_lipsync_pro_renders")]``.
"""

from __future__ import annotations

# --8<-- [start:example_sync_lipsync_pro]
from datetime import datetime

try:
    from airflow.sdk import DAG, Asset, Param
except ImportError:  # Airflow 2.11: assets are called datasets
    from airflow import DAG
    from airflow.datasets import Dataset as Asset
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(
    dag_id="example_sync_lipsync_pro",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "audio": Param("b4c57832-2075-492b-bf89-9b5e3ac02503", type="string"),
        "temperature": Param(0.3, type="number", minimum=0, maximum=1),
        "output_format": Param("MP4", enum=["MP4", "WEBM", "MOV"]),
        "output_quality": Param(95, type="integer", minimum=20, maximum=99),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_lipsync_pro]
    SyncLipsyncOperator(
        task_id="lipsync_pro",
        model="lipsync-2-pro",
        video="{{ params.video }}",
        audio=[{"id": "professional-audio", "source": "{{ params.audio }}"}],
        sync_mode="bounce",
        temperature="{{ params.temperature }}",
        occlusion_detection_enabled=True,
        output_format="{{ params.output_format }}",
        output_quality="{{ params.output_quality }}",
        poll_interval="{{ params.poll_interval }}",
        output_asset=Asset("sync_lipsync_pro_renders"),
    )
    # --8<-- [end:howto_operator_sync_lipsync_pro]
# --8<-- [end:example_sync_lipsync_pro]
