"""Lip-sync one video to a new audio track with Sync's ``lipsync-2``.

Every setting is a DAG param, so a run can override it from ``dag_run.conf``, e.g.::

    airflow dags trigger example_sync_lipsync --conf '{"video": "https://example.com/take1.mp4",
        "audio": "https://example.com/take1-fr.wav", "sync_mode": "loop"}'

The defaults are the media UUIDs from Runware's documentation; the local emulator answers
them with its generated sample clips.

A run may also name files on the worker or in object storage (uploaded first) and an
``output_path``. Whoever triggers the DAG chooses them, so they must lie under a folder the
deployment allows in ``[sync] allowed_media_roots`` (``make demo`` allows its own
``.demo/samples`` and ``.demo/output``); an existing file is not replaced.
"""

from __future__ import annotations

# --8<-- [start:example_sync_lipsync]
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(
    dag_id="example_sync_lipsync",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param(
            "c64351d5-4c59-42f7-95e1-eace013eddab",
            type="string",
            description="UUID, URL, or a file under [sync] allowed_media_roots",
        ),
        "audio": Param(
            "b4c57832-2075-492b-bf89-9b5e3ac02503",
            type="string",
            description="UUID, URL, or a file under [sync] allowed_media_roots",
        ),
        "sync_mode": Param("bounce", enum=["bounce", "loop", "cut_off", "silence", "remap"]),
        "temperature": Param(0.5, type="number", minimum=0, maximum=1),
        "output_format": Param("MP4", enum=["MP4", "WEBM", "MOV"]),
        "poll_interval": Param(10, type="number", minimum=0.1),
        # Optional: "null" in the type lets the trigger form leave it empty.
        "output_path": Param(
            None,
            type=["null", "string"],
            description="A new .mp4/.webm/.mov under [sync] allowed_media_roots (empty: don't save)",
        ),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_lipsync]
    lipsync = SyncLipsyncOperator(
        task_id="lipsync",
        model="lipsync-2",
        video="{{ params.video }}",
        audio=[{"id": "main-audio", "source": "{{ params.audio }}"}],
        sync_mode="{{ params.sync_mode }}",
        temperature="{{ params.temperature }}",
        active_speaker_detection=True,
        output_format="{{ params.output_format }}",
        poll_interval="{{ params.poll_interval }}",
        output_path="{{ params.output_path }}",
    )
    # --8<-- [end:howto_operator_sync_lipsync]
# --8<-- [end:example_sync_lipsync]
