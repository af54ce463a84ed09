"""Submit a whole batch of renders first, then wait for all of them, in two task groups.

The ``submit`` group maps one lip-sync task over the run's clips, each with
``wait_for_completion=False``: it returns as soon as Runware has the job, so the whole batch
is queued at Runware within seconds. The ``wait`` group maps a ``SyncRenderSensor`` over what
those tasks returned, one per job (deferred to the triggerer, holding no worker slot), and
saves each video. A last task adds up the batch. Trigger it with, for example::

    airflow dags trigger example_sync_submit_then_wait --conf '{"clips": [
        {"name": "ep1-fr", "video": "https://cdn.example.com/ep1.mp4", "audio": "https://cdn.example.com/ep1-fr.wav"},
        {"name": "ep1-de", "video": "https://cdn.example.com/ep1.mp4", "audio": "https://cdn.example.com/ep1-de.wav"}],
        "output_dir": "s3://renders/ep1/"}'

Each video is saved as ``<output_dir><task UUID>.mp4``. The output folder comes from the
conf, so it must lie under an allowed media root: this DAG allows ``s3://renders/`` itself
(``allowed_media_roots``), a deployment can allow more with ``[sync] allowed_media_roots``.
"""

from __future__ import annotations

# --8<-- [start:example_sync_submit_then_wait]
from collections.abc import Sequence
from datetime import datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, TaskGroup, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param
    from airflow.utils.task_group import TaskGroup

from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.sensors.sync import SyncRenderSensor

DEFAULT_CLIPS = [
    {
        "name": "clip-1",
        "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
        "audio": "b4c57832-2075-492b-bf89-9b5e3ac02503",
    },
    {
        "name": "clip-2",
        "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
        "audio": "32754c50-4506-4b37-87a7-fdb75a7a55df",
        "sync_mode": "loop",
    },
    {
        "name": "clip-3",
        "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
        "audio": "b4f87ba1-df22-4606-a60f-c1d5467e5bf0",
        "sync_mode": "silence",
    },
]

with DAG(
    dag_id="example_sync_submit_then_wait",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware", "mapping", "sensor"],
    params={
        "clips": Param(DEFAULT_CLIPS, type="array", description="[{name, video, audio, sync_mode?}]"),
        "model": Param("lipsync-2", enum=["lipsync-2", "lipsync-2-pro"]),
        "output_dir": Param(
            None, type=["null", "string"], description="Folder or bucket prefix ending in / (optional)"
        ),
    },
) as dag:

    @task
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One set of render arguments per clip."""
        assert params is not None
        return [
            {
                "video": clip["video"],
                "audio": [{"id": clip.get("name", f"clip-{n}"), "source": clip["audio"]}],
                "sync_mode": clip.get("sync_mode", "bounce"),
            }
            for n, clip in enumerate(params["clips"], start=1)
        ]

    # --8<-- [start:howto_operator_sync_submit_then_wait]
    with TaskGroup("submit", tooltip="Submit every clip's render; return at once"):
        jobs = SyncLipsyncOperator.partial(
            task_id="lipsync",
            model="{{ params.model }}",
            map_index_template="{{ task.audio[0]['id'] }}",
            wait_for_completion=False,
        ).expand_kwargs(plan())

    with TaskGroup("wait", tooltip="Wait for each job, then save its video"):
        renders = SyncRenderSensor.partial(
            task_id="render",
            output_path="{{ params.output_dir or '' }}",
            # The output folder is a run-time value: it may only name these roots.
            allowed_media_roots=["s3://renders/"],
            poke_interval=10,
        ).expand(task_uuid=jobs.output)
    # --8<-- [end:howto_operator_sync_submit_then_wait]

    @task
    def collect(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Sum up the batch: how many videos, what they cost, where they are."""
        # A slice reads every mapped result in one request (iterating the lazy sequence asks
        # for one item past its end, which Airflow logs as "XCom not found").
        rendered = results[:]
        total = round(sum(r.get("cost") or 0 for r in rendered), 4)
        print(f"{len(rendered)} videos rendered, total cost USD {total}")
        return {
            "videos": len(rendered),
            "total_cost": total,
            "outputs": [r.get("output_path") or r["video_url"] for r in rendered],
        }

    collect(renders.output)
# --8<-- [end:example_sync_submit_then_wait]
