"""OpenLineage: a render reports its video and audio objects as inputs and the rendered video
as output, named per the OpenLineage dataset naming spec, through the provider's extractor."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_sync.lineage import dataset_name
from airflow_provider_sync.testing.emulator import EmulatorServer

from .conftest import S3Server
from .test_presigned_media import _context, _inputs, _operator, run

pytest.importorskip("airflow.providers.openlineage")

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("s3://media/in/clip.mp4", ("s3://media", "in/clip.mp4")),
        ("s3://conn@media/in/clip.mp4", ("s3://media", "in/clip.mp4")),
        ("gs://bucket/a/b.wav", ("gs://bucket", "a/b.wav")),
        ("/data/in/clip.mp4", ("file", "/data/in/clip.mp4")),
        ("file:///data/in/clip.mp4", ("file", "/data/in/clip.mp4")),
        (
            "https://cdn.example.com:8443/v/a.wav?X-Amz-Signature=abc&X-Amz-Credential=k",
            ("https://cdn.example.com:8443", "/v/a.wav"),
        ),
        ("b4c57832-2075-492b-bf89-9b5e3ac02503", ("runware", "b4c57832-2075-492b-bf89-9b5e3ac02503")),
        ("data:audio/wav;base64,UklGRg==", None),
    ],
)
def test_dataset_names_follow_the_naming_spec(source: str, expected: tuple[str, str] | None) -> None:
    assert dataset_name(source) == expected


def _emit(lineage: Any, op: Any) -> list[dict[str, Any]]:
    """Emit a COMPLETE event with ``lineage`` through an OpenLineage client; return what it sent."""
    from datetime import datetime, timezone
    from uuid import uuid4

    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.serde import Serde
    from openlineage.client.transport import Transport

    sent: list[dict[str, Any]] = []

    class Capture(Transport):
        kind = "capture"

        def emit(self, event: Any) -> None:
            sent.append(json.loads(Serde.to_json(event)))

    client = OpenLineageClient(transport=Capture())
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=datetime.now(timezone.utc).isoformat(),
            run=Run(runId=str(uuid4())),
            job=Job(namespace="airflow", name=f"s3_dag.{op.task_id}"),
            producer="airflow-provider-sync-tests",
            inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in lineage.inputs],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in lineage.outputs],
        )
    )
    return sent


def test_a_render_reports_its_objects_through_the_openlineage_extractor(
    s3: S3Server, emulator: EmulatorServer
) -> None:
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    bucket = s3.bucket("media-lineage")
    video, audio = _inputs(s3, bucket)
    op = _operator(video=video, audio=audio, output_path=f"s3://{bucket}/renders/", deferrable=False)
    out = run(op, _context("lineage"))

    # What the OpenLineage listener does when the task succeeds.
    lineage = ExtractorManager().extract_metadata(
        dagrun=SimpleNamespace(run_id="lineage"),
        task=op,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=SimpleNamespace(),
    )
    inputs = [(d.namespace, d.name) for d in lineage.inputs]
    outputs = [(d.namespace, d.name) for d in lineage.outputs]
    assert inputs == [(f"s3://{bucket}", "in/clip.mp4"), (f"s3://{bucket}", "in/voice.wav")]
    assert outputs == [(f"s3://{bucket}", f"renders/{out['task_uuid']}.mp4")]

    [event] = _emit(lineage, op)
    assert event["eventType"] == "COMPLETE"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == inputs
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == outputs
    assert "X-Amz" not in json.dumps(event)  # signed URLs never reach lineage


def test_without_an_output_path_the_output_is_runware_s_video_url() -> None:
    op = _operator(video="b4c57832-2075-492b-bf89-9b5e3ac02503", audio="https://cdn.example.com/a.wav?sig=1")
    op._lineage_output = "https://vm.runware.ai/video/abc.mp4"
    lineage = op.get_openlineage_facets_on_complete(SimpleNamespace())
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("runware", "b4c57832-2075-492b-bf89-9b5e3ac02503"),
        ("https://cdn.example.com", "/a.wav"),
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("https://vm.runware.ai", "/video/abc.mp4")]
