"""Dub two parts of one video from two audio files, using ``segments``.

Each segment maps a video time range to an audio input (by id), optionally cropping the
audio. Override the whole list per run: ``{"segments": [{"startTime": 0, "endTime": 3,
"ref": "part-1"}, ...]}``; snake_case keys (``start_time``) work too.
"""

from __future__ import annotations

# --8<-- [start:example_sync_segments]
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

DEFAULT_SEGMENTS = [
    {"startTime": 0, "endTime": 3, "ref": "part-1"},
    {"startTime": 3, "endTime": 6, "ref": "part-2", "audioStartTime": 1, "audioEndTime": 4},
]

with DAG(
    dag_id="example_sync_segments",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "part_1": Param("32754c50-4506-4b37-87a7-fdb75a7a55df", type="string"),
        "part_2": Param("b4f87ba1-df22-4606-a60f-c1d5467e5bf0", type="string"),
        "segments": Param(DEFAULT_SEGMENTS, type="array"),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_segments]
    SyncLipsyncOperator(
        task_id="dub_segments",
        video="{{ params.video }}",
        audio=[
            {"id": "part-1", "source": "{{ params.part_1 }}"},
            {"id": "part-2", "source": "{{ params.part_2 }}"},
        ],
        segments="{{ params.segments }}",
        poll_interval="{{ params.poll_interval }}",
    )
    # --8<-- [end:howto_operator_sync_segments]
# --8<-- [end:example_sync_segments]
