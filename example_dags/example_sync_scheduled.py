"""Every hour, lip-sync the clips that arrived in a folder or bucket during that hour.

A scheduled pipeline as data platforms run it: each run lists the clips whose files were
last modified in its data interval under ``incoming/`` (a video ``<name>.mp4`` with its audio
``<name>.wav`` beside it), renders each one in its own mapped task, and saves the result
beside them under ``renders/``. Each render emits an event on the ``renders`` Asset, on which
the second DAG here, ``example_sync_scheduled_review``, is scheduled.

Where the clips are comes from the environment: ``SYNC_EXAMPLE_INCOMING`` (an ``s3://``
prefix or a local folder) and ``SYNC_EXAMPLE_RENDERS`` (default: ``renders/`` beside it). On
a bucket, Runware writes each render there itself through a presigned ``uploadEndpoint``:
the video never passes through the worker. Without them, the clips are read from a local
folder under the deployment's first local ``[sync] allowed_media_roots`` entry,
``<root>/example_sync_scheduled/incoming/`` (created if missing); with neither, the run
skips with one line saying what to set. Both folders are declared as allowed media roots,
because the paths are computed at run time.
"""

from __future__ import annotations

# --8<-- [start:example_sync_scheduled]
import os
from datetime import datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, Asset, Param, task
except ImportError:  # Airflow 2.11: assets are called datasets
    from airflow import DAG
    from airflow.datasets import Dataset as Asset
    from airflow.decorators import task
    from airflow.models.param import Param
from airflow.timetables.interval import DeltaDataIntervalTimetable

from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.paths import MediaRoots


def clip_folders() -> tuple[str, str] | None:
    """Where clips arrive and renders go: the environment's, else a folder under the first
    local allowed media root, else ``None`` (nothing configured: the run skips)."""
    incoming = os.environ.get("SYNC_EXAMPLE_INCOMING", "")
    if not incoming:
        local_roots = MediaRoots.configured().local
        if not local_roots:
            return None
        incoming = f"{local_roots[0] / 'example_sync_scheduled' / 'incoming'}/"
    incoming = incoming.rstrip("/") + "/"
    beside = incoming.rstrip("/").rsplit("/", 1)[0] + "/renders/"
    return incoming, os.environ.get("SYNC_EXAMPLE_RENDERS") or beside


FOLDERS = clip_folders()
INCOMING, RENDERS = FOLDERS or ("", "")
NOT_CONFIGURED = (
    "No clips folder: set SYNC_EXAMPLE_INCOMING (an s3:// prefix or a local folder) or add a "
    "local folder to [sync] allowed_media_roots (AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS)"
)
# A logical asset, whatever the bucket: each event's extra names the object (output_path).
RENDERS_ASSET = Asset("sync_scheduled_renders")

with DAG(
    dag_id="example_sync_scheduled",
    # Hourly, with data intervals: each run covers the hour before it, and no clip is in two runs.
    schedule=DeltaDataIntervalTimetable(timedelta(hours=1)),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "sync", "runware", "scheduled", "mapping"],
    params={
        "model": Param("lipsync-2", enum=["lipsync-2", "lipsync-2-pro"]),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:

    @task
    def arrivals(
        data_interval_start: Any = None, data_interval_end: Any = None, dag_run: Any = None
    ) -> list[dict[str, Any]]:
        """The clips whose video arrived in this run's data interval, as operator arguments."""
        try:
            from airflow.sdk import ObjectStoragePath
        except ImportError:  # Airflow 2.11
            from airflow.io.path import ObjectStoragePath

        try:
            from airflow.sdk.exceptions import AirflowSkipException
        except ImportError:  # Airflow before 3.2
            from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]

        if FOLDERS is None:
            raise AirflowSkipException(NOT_CONFIGURED)
        for folder in (INCOMING, RENDERS):
            if "://" not in folder:  # a local folder: make it, so there is somewhere to put clips
                os.makedirs(folder, exist_ok=True)
        if data_interval_end is None:  # a manual run without a logical date: the hour before it
            data_interval_end = dag_run.run_after
            data_interval_start = data_interval_end - timedelta(hours=1)
        print(
            f"Looking for <name>.mp4 + <name>.wav in {INCOMING} that arrived in "
            f"[{data_interval_start}, {data_interval_end}); renders go to {RENDERS}"
        )
        clips = []
        for video in sorted(ObjectStoragePath(INCOMING).iterdir(), key=str):
            if video.suffix.lower() != ".mp4":
                continue
            info = video.fs.info(video.path)
            arrived = info.get("LastModified") or info.get("mtime")
            if isinstance(arrived, (int, float)):
                arrived = datetime.fromtimestamp(arrived, tz=data_interval_end.tzinfo)
            # Half-open [start, end): an object stamped exactly at a boundary is in one run only.
            if arrived is None or not data_interval_start <= arrived < data_interval_end:
                continue
            audio = video.with_suffix(".wav")
            if not audio.exists():
                continue
            clips.append(
                {
                    "video": str(video),
                    "audio": str(audio),
                    "output_path": f"{RENDERS}{video.stem}.mp4",
                }
            )
        return clips

    # --8<-- [start:howto_operator_sync_scheduled]
    SyncLipsyncOperator.partial(
        task_id="lipsync",
        model="{{ params.model }}",
        poll_interval="{{ params.poll_interval }}",
        output_asset=RENDERS_ASSET,
        # The paths come from a task (run-time values): say where they may point.
        allowed_media_roots=[root for root in (INCOMING, RENDERS) if root],
        map_index_template="{{ task.video.rsplit('/', 1)[-1] }}",
    ).expand_kwargs(arrivals())
    # --8<-- [end:howto_operator_sync_scheduled]

with DAG(
    dag_id="example_sync_scheduled_review",
    schedule=[RENDERS_ASSET],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "asset"],
) as review:

    @task
    def new_renders(triggering_asset_events: Any = None, triggering_dataset_events: Any = None) -> list[str]:
        """The renders whose events triggered this run (their object paths).

        Airflow 2.11 passes them as ``triggering_dataset_events``.
        """
        return [
            str(event.extra.get("output_path") or event.extra.get("video_url"))
            for events in (triggering_asset_events or triggering_dataset_events or {}).values()
            for event in events
        ]

    new_renders()
# --8<-- [end:example_sync_scheduled]
