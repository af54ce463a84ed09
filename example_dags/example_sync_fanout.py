"""Lip-sync a whole batch of clips in parallel, one mapped task per clip.

The clip list comes from the run's conf; each clip gets its own task instance (dynamic task
mapping), all of them deferred while Runware renders, so hundreds of clips hold no worker
slot. Trigger it with, for example::

    airflow dags trigger example_sync_fanout --conf '{"clips": [
        {"name": "ep1-fr", "video": "https://cdn.example.com/ep1.mp4", "audio": "https://cdn.example.com/ep1-fr.wav"},
        {"name": "ep1-de", "video": "https://cdn.example.com/ep1.mp4", "audio": "https://cdn.example.com/ep1-de.wav",
         "sync_mode": "loop"}],
        "output_dir": "s3://renders/ep1/"}'

The output folder comes from the conf, so it must lie under an allowed media root: this DAG
allows ``s3://renders/`` itself (``allowed_media_roots``), a deployment can allow more with
``[sync] allowed_media_roots``. A last task adds up what the batch cost.
"""

from __future__ import annotations

# --8<-- [start:example_sync_fanout]
from collections.abc import Sequence
from datetime import datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

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
    dag_id="example_sync_fanout",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware", "mapping"],
    params={
        "clips": Param(DEFAULT_CLIPS, type="array", description="[{name, video, audio, sync_mode?}]"),
        "model": Param("lipsync-2", enum=["lipsync-2", "lipsync-2-pro"]),
        "output_dir": Param(
            None, type=["null", "string"], description="Folder or bucket prefix ending in / (optional)"
        ),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:

    @task
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One set of operator arguments per clip."""
        assert params is not None
        out_dir = params["output_dir"]
        return [
            {
                "video": clip["video"],
                "audio": [{"id": clip.get("name", f"clip-{n}"), "source": clip["audio"]}],
                "sync_mode": clip.get("sync_mode", "bounce"),
                "output_path": f"{out_dir}{clip.get('name', f'clip-{n}')}.mp4" if out_dir else None,
            }
            for n, clip in enumerate(params["clips"], start=1)
        ]

    # --8<-- [start:howto_operator_sync_fanout]
    renders = SyncLipsyncOperator.partial(
        task_id="lipsync",
        model="{{ params.model }}",
        poll_interval="{{ params.poll_interval }}",
        map_index_template="{{ task.audio[0]['id'] }}",
        # Expanded arguments are run-time values: their paths may only name these roots.
        allowed_media_roots=["s3://renders/"],
    ).expand_kwargs(plan())
    # --8<-- [end:howto_operator_sync_fanout]

    @task
    def report(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Sum up the batch: how many videos, what they cost, where they are."""
        # A slice reads every mapped result in one request. Iterating the lazy sequence
        # (list(results), a for loop) asks for one item past the end, and Airflow logs that
        # as "[error] XCom not found".
        rendered = results[:]
        total = round(sum(r.get("cost") or 0 for r in rendered), 4)
        print(f"{len(rendered)} videos rendered, total cost USD {total}")
        return {
            "videos": len(rendered),
            "total_cost": total,
            "outputs": [r.get("output_path") or r["video_url"] for r in rendered],
        }

    report(renders.output)
# --8<-- [end:example_sync_fanout]
