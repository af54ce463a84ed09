"""Rendering from Python (``@task`` code) with the hook: build, submit or re-attach, wait.

Against the emulator on loopback, with the operators' identity and state machine: the same
task instance and request re-attach to one job, uploads happen once, waiting in a coroutine
never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_sync.exceptions import RunwareJobError, RunwareTimeoutError, SyncValidationError
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.idempotency import JobKey
from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator
from airflow_provider_sync.render import (
    Submission,
    await_result,
    build_request,
    render,
    submit,
    task_instance_key,
    wait,
)
from airflow_provider_sync.testing.emulator import EmulatorServer

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def context(task_id: str = "dub", try_number: int = 1, map_index: int = -1) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="python_dag", run_id="manual__1", task_id=task_id, map_index=map_index, try_number=try_number
    )
    return {"ti": ti}


@pytest.fixture
def hook(emulator: EmulatorServer) -> Any:
    made = RunwareHook(max_attempts=2, retry_min_wait=0.01, retry_max_wait=0.05)
    yield made
    made.close()


def jobs(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]


# ---------------------------------------------------------------- build_request


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (SyncLipsyncOperator, {"sync_mode": "loop", "temperature": "0.4", "output_format": "webm"}),
        (
            SyncLipsyncOperator,
            {"model": "lipsync-2-pro", "segments": [{"start_time": 0, "end_time": 2, "ref": "audio-1"}]},
        ),
        (SyncReactOperator, {"model": "react-1", "emotion_prompt": "Sad", "edit_region": "head"}),
        (
            SyncLipsyncOperator,
            {"model": "sync-3", "edit_region": "face", "ttl": 3600, "sync_mode": "cut_off"},
        ),
    ],
)
def test_the_request_is_the_one_an_operator_would_send(cls: type, params: dict[str, Any]) -> None:
    op = cls(task_id="t", video=VIDEO, audio=AUDIO, **params)
    assert build_request(video=VIDEO, audio=AUDIO, **params) == op.build_request()


def test_the_request_is_validated_with_every_problem_named() -> None:
    with pytest.raises(SyncValidationError) as err:
        build_request(video=VIDEO, audio=AUDIO, sync_mode="remapp", temperature=2)
    assert [p.split(" ")[0] for p in err.value.problems] == ["sync_mode", "temperature"]


# ---------------------------------------------------------------- submit and wait


def test_submit_then_wait_returns_the_operators_result(emulator: EmulatorServer, hook: RunwareHook) -> None:
    request = build_request(video=VIDEO, audio=AUDIO, output_format="mov")
    job = submit(hook, request, context=context())
    assert job.submitted is True
    result = wait(hook, job, poll_interval=0.1)
    assert result["task_uuid"] == job.task_uuid
    assert result["model"] == "sync:lipsync-2@1"
    assert result["output_format"] == "MOV"
    assert result["video_url"]
    assert result["video_url"] == result["raw"]["videoURL"]
    assert result["cost"] is not None
    assert [t["taskUUID"] for t in jobs(emulator)] == [job.task_uuid]


def test_the_same_task_instance_re_attaches_instead_of_paying_again(
    emulator: EmulatorServer, hook: RunwareHook, tmp_path: Path
) -> None:
    audio = tmp_path / "fr.wav"
    audio.write_bytes(b"RIFF" + bytes(300))
    request = build_request(video=VIDEO, audio=[{"id": "fr", "source": str(audio)}])
    roots = [str(tmp_path)]
    first = submit(hook, request, context=context(), allowed_media_roots=roots)
    again = submit(hook, request, context=context(try_number=2), allowed_media_roots=roots)  # a retry
    assert (first.submitted, again.submitted) == (True, False)
    assert again.task_uuid == first.task_uuid
    assert emulator.admin.stats()["media_uploads"] == 1  # re-attaching uploads nothing
    assert len(jobs(emulator)) == 1
    other = submit(hook, request, context=context(task_id="another"), allowed_media_roots=roots)
    assert other.task_uuid != first.task_uuid
    # The operators name jobs the same way: an operator in this task instance would find it.
    key = task_instance_key(context()["ti"], request, media_versions=[f"304:sha256:{_sha(audio)}"])
    assert key.task_uuid() == first.task_uuid


def test_force_new_job_pays_for_each_try(emulator: EmulatorServer, hook: RunwareHook) -> None:
    request = build_request(video=VIDEO, audio=AUDIO)
    first = submit(hook, request, context=context(try_number=1), force_new_job=True)
    second = submit(hook, request, context=context(try_number=2), force_new_job=True)
    assert first.task_uuid != second.task_uuid
    assert second.submitted is True


def test_outside_a_task_the_caller_names_the_job(emulator: EmulatorServer, hook: RunwareHook) -> None:
    request = build_request(video=VIDEO, audio=AUDIO)
    key = JobKey(dag_id="script", run_id="2025-01-01", task_id="trailer", map_index=-1, fingerprint="v1")
    job = submit(hook, request, key=key)
    assert job.task_uuid == key.task_uuid()
    with pytest.raises(SyncValidationError, match="either context"):
        submit(hook, request)
    with pytest.raises(SyncValidationError, match="either context"):
        submit(hook, request, key=key, context=context())


def test_a_missing_file_fails_before_anything_is_sent(
    emulator: EmulatorServer, hook: RunwareHook, tmp_path: Path
) -> None:
    request = build_request(video=str(tmp_path / "missing.mp4"), audio=AUDIO)
    with pytest.raises(SyncValidationError, match="does not exist"):
        submit(hook, request, context=context(), allowed_media_roots=str(tmp_path))
    assert emulator.admin.requests() == []


def test_files_from_the_run_are_held_to_the_allowed_media_roots(
    emulator: EmulatorServer, hook: RunwareHook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A @task's values often come from dag_run.conf: a file is read only under an allowed root."""
    secret = tmp_path / "elsewhere" / "secret.wav"
    secret.parent.mkdir()
    secret.write_bytes(b"RIFF" + bytes(100))
    request = build_request(video=VIDEO, audio=str(secret))
    with pytest.raises(SyncValidationError, match="outside the allowed media roots"):
        submit(hook, request, context=context(), allowed_media_roots=str(tmp_path / "media"))
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path / "elsewhere"))
    assert submit(hook, request, context=context()).submitted  # the deployment allows it
    monkeypatch.delenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS")
    # The code's own literal path: trusted, as a literal path in an operator is.
    assert not submit(hook, request, context=context(), trusted_paths=True).submitted  # same job
    assert emulator.admin.stats()["media_uploads"] == 1


def test_a_failed_job_raises_its_error(emulator: EmulatorServer, hook: RunwareHook) -> None:
    emulator.admin.configure(render_seconds=30)
    job = submit(hook, build_request(video=VIDEO, audio=AUDIO), context=context())
    emulator.admin.fail(job.task_uuid, "noFaceDetected", "no face in the video")
    with pytest.raises(RunwareJobError) as err:
        wait(hook, job, poll_interval=0.1)
    assert err.value.code == "noFaceDetected"
    assert err.value.task_uuid == job.task_uuid


def test_the_wait_ends_at_its_timeout_and_the_job_goes_on(
    emulator: EmulatorServer, hook: RunwareHook
) -> None:
    emulator.admin.configure(render_seconds=300)
    job = submit(hook, build_request(video=VIDEO, audio=AUDIO), context=context())
    with pytest.raises(RunwareTimeoutError, match=job.task_uuid):
        wait(hook, job, poll_interval=0.1, timeout=0.5)


def test_a_job_found_finished_returns_without_polling(emulator: EmulatorServer, hook: RunwareHook) -> None:
    request = build_request(video=VIDEO, audio=AUDIO)
    wait(hook, submit(hook, request, context=context()), poll_interval=0.1)
    again = submit(hook, request, context=context())
    assert again.state is not None
    assert again.state.status == "success"
    polls = emulator.admin.stats()["get_response"]
    assert wait(hook, again)["task_uuid"] == again.task_uuid  # poll_interval 10 s: no wait
    assert emulator.admin.stats()["get_response"] == polls


def test_render_does_it_all(emulator: EmulatorServer) -> None:
    result = render(video=VIDEO, audio=AUDIO, model="lipsync-2-pro", context=context(), poll_interval=0.1)
    assert result["model"] == "sync:lipsync-2-pro@1"
    assert len(jobs(emulator)) == 1


# ---------------------------------------------------------------- async


async def test_await_result_never_blocks_the_event_loop(
    emulator: EmulatorServer, hook: RunwareHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(hook, build_request(video=VIDEO, audio=AUDIO), context=context())

    def blocking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a blocking call on the event loop")

    # Only the async client and asyncio.sleep may be used while waiting.
    monkeypatch.setattr(time, "sleep", blocking)
    monkeypatch.setattr(RunwareHook, "get_task_state", blocking)
    monkeypatch.setattr(RunwareHook, "get_task_states", blocking)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        result = await await_result(hook, job, poll_interval=0.1)
    finally:
        done.set()
        await ticking
        await hook.aclose()
    assert result["task_uuid"] == job.task_uuid
    assert ticks > 1  # the loop ran other work while the render was pending


async def test_several_waits_share_one_hook(emulator: EmulatorServer, hook: RunwareHook) -> None:
    jobs_ = [
        submit(hook, build_request(video=VIDEO, audio=AUDIO), context=context(map_index=i)) for i in range(3)
    ]
    try:
        results = await asyncio.gather(*(await_result(hook, j, poll_interval=0.1) for j in jobs_))
    finally:
        await hook.aclose()
    assert [r["task_uuid"] for r in results] == [j.task_uuid for j in jobs_]
    assert len({r["task_uuid"] for r in results}) == 3


async def test_await_result_raises_as_wait_does(emulator: EmulatorServer, hook: RunwareHook) -> None:
    emulator.admin.configure(render_seconds=30)
    job = submit(hook, build_request(video=VIDEO, audio=AUDIO), context=context())
    emulator.admin.fail(job.task_uuid, "noFaceDetected", "no face")
    try:
        with pytest.raises(RunwareJobError, match="no face"):
            await await_result(hook, job, poll_interval=0.1)
    finally:
        await hook.aclose()


def test_submission_records_what_the_wait_needs() -> None:
    job = Submission(task_uuid="t", submitted=True, model="sync:react-1@1", output_format="MP4", started=1.0)
    assert job.uploaded_media == {}
    assert job.state is None


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
