"""Lip-sync a video with Sync's ``sync-3``: a new audio track, or a script Runware voices.

sync-3 takes its own request (Runware's page ``runware.ai/docs/models/sync-3``): its settings
are a top-level ``settings`` object and its speech a top-level ``speech``, and it takes exactly
one of ``audio``, ``speech`` and ``segments``. The operator builds that shape from the same
parameters as for lipsync-2; a run chooses audio or script through its conf, e.g.::

    airflow dags trigger example_sync_sync3 --conf '{"audio": null,
        "text": "Bienvenue a tous.", "voice": "21m00Tcm4TlvDq8ikWAM"}'

The defaults are the media UUIDs from Runware's documentation; the local emulator answers them
with its generated sample clips. The task logs the render's estimated price before submitting
it, and ``max_cost`` refuses to submit a render estimated above it.
"""

from __future__ import annotations

# --8<-- [start:example_sync_sync3]
from datetime import datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(
    dag_id="example_sync_sync3",
    schedule=None,
    start_date=datetime(2026, 4, 7),
    catchup=False,
    tags=["example", "sync", "runware", "sync-3"],
    params={
        "video": Param(
            "c64351d5-4c59-42f7-95e1-eace013eddab",
            type="string",
            description="UUID, URL, or a file under [sync] allowed_media_roots",
        ),
        # Either an audio track or a script (text + voice): leave the other empty.
        "audio": Param(
            "b4c57832-2075-492b-bf89-9b5e3ac02503",
            type=["null", "string"],
            description="UUID, URL, or a file under [sync] allowed_media_roots (empty: use the script)",
        ),
        "text": Param(None, type=["null", "string"], description="A script for Runware to voice"),
        "voice": Param(None, type=["null", "string"], description="The voice that speaks the script"),
        "sync_mode": Param("cut_off", enum=["bounce", "cut_off", "silence", "remap"]),
        "edit_region": Param("lips", enum=["lips", "face", "head"]),
        "output_format": Param(None, type=["null", "string"], enum=[None, "MP4", "WEBM", "MOV"]),
        "max_cost": Param(None, type=["null", "number"], description="Refuse renders estimated above (USD)"),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_sync3]
    SyncLipsyncOperator(
        task_id="sync3",
        model="sync-3",
        video="{{ params.video }}",
        audio="{{ params.audio }}",
        # Rendered only when a script is given; an empty speech is not sent.
        speech="{{ {'text': params.text, 'voice': params.voice} if params.text else '' }}",
        sync_mode="{{ params.sync_mode }}",
        edit_region="{{ params.edit_region }}",
        occlusion_detection_enabled=True,
        active_speaker_detection=True,
        # An empty param renders "None": Runware's default format (MP4).
        output_format="{{ params.output_format }}",
        max_cost="{{ params.max_cost }}",
        poll_interval="{{ params.poll_interval }}",
    )
    # --8<-- [end:howto_operator_sync_sync3]
# --8<-- [end:example_sync_sync3]
