"""Text-to-speech into a ``react-1`` performance, with the emotion chosen per run.

A first task "directs" the take: it turns the run's script into a ``speech`` input and picks
the emotion (from the conf, or from the script's punctuation when none is given). The react
task then voices the script and re-acts the video with that emotion::

    airflow dags trigger example_sync_speech_to_react --conf '{"script": "We won! We actually won!"}'
"""

from __future__ import annotations

# --8<-- [start:example_sync_speech_to_react]
from datetime import datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_sync.operators.sync import SyncReactOperator

with DAG(
    dag_id="example_sync_speech_to_react",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "sync", "runware"],
    params={
        "video": Param("c64351d5-4c59-42f7-95e1-eace013eddab", type="string"),
        "script": Param("This is a dramatic performance with natural head movements.", type="string"),
        "voice_id": Param("21m00Tcm4TlvDq8ikWAM", type="string"),
        "emotion": Param(
            None,
            type=["null", "string"],
            enum=[None, "happy", "sad", "angry", "disgusted", "surprised", "neutral"],
            description="empty: guessed from the script",
        ),
        "edit_region": Param("head", enum=["lips", "face", "head"]),
        "poll_interval": Param(10, type="number", minimum=0.1),
    },
) as dag:

    @task
    def direct(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The speech input and the emotion for this take."""
        assert params is not None
        script = params["script"].strip()
        emotion = params["emotion"] or ("surprised" if script.endswith("!") else "neutral")
        speech = [
            {
                "id": "take-1",
                "provider": {"name": "elevenlabs", "voiceId": params["voice_id"]},
                "text": script,
            }
        ]
        return {"speech": speech, "emotion": emotion}

    # --8<-- [start:howto_operator_sync_speech_to_react]
    take = direct()
    SyncReactOperator(
        task_id="react",
        video="{{ params.video }}",
        speech=take["speech"],
        emotion_prompt=take["emotion"],
        edit_region="{{ params.edit_region }}",
        sync_mode="remap",
        poll_interval="{{ params.poll_interval }}",
    )
    # --8<-- [end:howto_operator_sync_speech_to_react]
# --8<-- [end:example_sync_speech_to_react]
