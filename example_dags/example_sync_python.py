"""Render one clip from a ``@task``, with the hook and no operator.

The task builds the request from the same parameters the operators take, submits it (or
finds the job this task instance submitted before: retries never pay twice), then waits in
the worker. Use it where a render is one step of your own Python, e.g. choosing the audio
from a database first. Trigger it with, for example::

    airflow dags trigger example_sync_python --conf '{"video": "https://cdn.example.com/take1.mp4",
        "audio": "https://cdn.example.com/take1-fr.wav", "sync_mode": "loop"}'
"""

from __future__ import annotations

# --8<-- [start:example_sync_python]
from datetime import datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.render import build_request, submit, wait

with DAG(
    dag_id="example_sync_python",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "audio": Param("b4c57832-2075-492b-bf89-9b5e3ac02503", type="string"),
        "sync_mode": Param("bounce", enum=["bounce", "loop", "cut_off", "silence", "remap"]),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:
    # --8<-- [start:howto_operator_sync_python]
    @task
    def dub_clip(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Lip-sync one clip: build the request, submit it (or re-attach), wait for the video."""
        assert params is not None
        # Hook settings override the connection's, as an operator's hook_params do.
        hook = RunwareHook("runware_default", max_attempts=8, retry_max_wait=60)
        try:
            request = build_request(
                model="lipsync-2",
                video=params["video"],
                audio=[{"id": "dialogue", "source": params["audio"]}],
                sync_mode=params["sync_mode"],
            )
            job = submit(hook, request, context=context)  # named after this task instance
            result = wait(hook, job, poll_interval=params["poll_interval"])
        finally:
            hook.close()
        print(f"Rendered {result['video_url']} for USD {result['cost']}")
        return dict(result)

    dub_clip()
    # --8<-- [end:howto_operator_sync_python]
# --8<-- [end:example_sync_python]
