"""A job error that names an uploaded file's media UUID says which of the user's inputs it is.

Runware (and the emulator, which names its own copy ``.../uploads/<uuid>.wav``) speak of an
upload by its media UUID; the user knows the file by its path. The operator knows what it
uploaded in this try, in the worker and after deferral alike.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import RunwareJobError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from .conftest import BASE_URL, FakeTI

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


class UploadingRunware:
    """Stores uploads under fresh media UUIDs; the job fails naming the audio's copy."""

    def __init__(self) -> None:
        self.media: dict[str, str] = {}
        self.jobs: set[str] = set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for task in json.loads(request.content):
            if task["taskType"] == "mediaStorage":
                media_uuid = str(uuid.uuid4())
                self.media[media_uuid] = task["media"][:30]
                data.append(
                    {"taskType": "mediaStorage", "taskUUID": task["taskUUID"], "mediaUUID": media_uuid}
                )
            elif task["taskType"] == "videoInference":
                self.jobs.add(task["taskUUID"])
                self.audio = task["inputs"]["audio"][0]["source"]
                data.append(
                    {"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "processing"}
                )
            elif task["taskUUID"] in self.jobs:
                errors.append(
                    {
                        "taskUUID": task["taskUUID"],
                        "taskType": "videoInference",
                        "code": "renderFailed",
                        "message": f"rendering failed: cannot decode /srv/media/uploads/{self.audio}.wav",
                    }
                )
            else:
                errors.append(
                    {"taskUUID": task["taskUUID"], "code": "taskNotFound", "message": "unknown task"}
                )
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return httpx.Response(200 if data else 400, json=body)


@pytest.fixture
def runware(runware_conn: str) -> Any:
    fake = UploadingRunware()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE_URL).mock(side_effect=fake.handler)
        yield fake


def operator(tmp_path: Path, **kwargs: Any) -> SyncLipsyncOperator:
    audio = tmp_path / "voice-fr.wav"
    audio.write_bytes(b"RIFF" + bytes(200))
    return SyncLipsyncOperator(
        task_id="lipsync",
        video=VIDEO,
        audio=[{"id": "fr", "source": str(audio)}],
        poll_interval=0.01,
        **kwargs,
    )


def test_polling_in_the_worker(tmp_path: Path, runware: UploadingRunware) -> None:
    with pytest.raises(RunwareJobError) as err:
        operator(tmp_path, deferrable=False).execute({"ti": FakeTI()})  # type: ignore[arg-type]
    [media_uuid] = runware.media
    audio = tmp_path / "voice-fr.wav"
    assert err.value.message == (
        f"rendering failed: cannot decode /srv/media/uploads/{media_uuid}.wav "
        f"(media {media_uuid} is audio[0].source (id 'fr') {audio}, uploaded by this task)"
    )
    assert err.value.code == "renderFailed"


def test_after_deferral_in_a_new_operator(tmp_path: Path, runware: UploadingRunware) -> None:
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        operator(tmp_path, deferrable=True).execute({"ti": ti})  # type: ignore[arg-type]
    [media_uuid] = runware.media
    # The trigger echoes what the task needs to finish in its event (ResumeInfo).
    event = {
        "status": "error",
        "task_uuid": next(iter(runware.jobs)),
        "elapsed": 1.0,
        "error": {"code": "renderFailed", "message": f"cannot read media {media_uuid}"},
        "resume": deferred.value.trigger.resume,
    }
    resumed = operator(tmp_path, deferrable=True)  # the worker that resumes has a fresh instance
    with pytest.raises(RunwareJobError) as err:
        resumed.execute_complete({"ti": ti}, event)  # type: ignore[arg-type]
    assert f"media {media_uuid} is audio[0].source (id 'fr')" in err.value.message
    assert str(tmp_path / "voice-fr.wav") in err.value.message


def test_an_error_naming_no_upload_is_left_as_it_is(tmp_path: Path, runware: UploadingRunware) -> None:
    op = SyncLipsyncOperator(task_id="l", video=VIDEO, audio="https://cdn.test/a.wav", deferrable=False)
    event = {
        "status": "error",
        "task_uuid": "t",
        "elapsed": 1.0,
        "error": {"code": "x", "message": "no face found"},
    }
    with pytest.raises(RunwareJobError) as err:
        op.execute_complete({"ti": FakeTI()}, event)  # type: ignore[arg-type]
    assert err.value.message == "no face found"
