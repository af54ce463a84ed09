"""The answers Runware really gives (conflictTaskUUID, 504 after queueing, not-found
spellings, nested job errors, refusals that name no task) end each job exactly as meant,
with exactly one paid job."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from airflow_provider_sync.exceptions import RunwareAPIError, RunwareJobError
from airflow_provider_sync.hooks.batch_poller import BatchPoller
from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.media import LocalMedia
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..operators.conftest import FakeTI
from .conftest import lipsync, run_to_end

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_a_504_after_runware_queued_the_job_then_conflict_on_retry_re_attaches_to_one_job(
    emu: EmulatorServer, deferrable: bool
) -> None:
    emu.admin.set_faults([{"kind": "lost_after_accept", "task_type": "videoInference", "count": 1}])
    result = run_to_end(lipsync(deferrable=deferrable), FakeTI())
    assert result["status"] == "success"
    assert emu.admin.submissions() == [result["task_uuid"]]
    answers = [
        (r["status"], r["tasks"][0]["taskUUID"])
        for r in emu.admin.requests()
        if r.get("tasks") and r["tasks"][0].get("taskType") == "videoInference"
    ]
    # Runware took the job, answered 504, then refused the retry as a reused taskUUID.
    assert answers == [(504, result["task_uuid"]), (400, result["task_uuid"])]
    assert emu.admin.stats()["duplicates"] == 1


@pytest.mark.parametrize("style", ["taskFailedOrNotFound", "taskNotFound", "taskExpired", "empty"])
def test_every_not_found_spelling_reads_as_unknown_so_the_job_is_submitted_once(
    emu: EmulatorServer, style: str
) -> None:
    emu.admin.configure(not_found_style=style)
    result = run_to_end(lipsync(deferrable=True), FakeTI())
    assert result["status"] == "success"
    assert len(emu.admin.submissions()) == 1


@pytest.mark.parametrize("job_error_style", ["nested", "errors"])
def test_a_failed_job_reports_runware_s_code_whether_nested_or_flat(
    emu: EmulatorServer, job_error_style: str
) -> None:
    emu.admin.configure(job_error_style=job_error_style)
    emu.admin.set_faults(
        [{"kind": "job_error", "code": "timeoutProvider", "message": "slow gpu", "count": 1}]
    )
    with pytest.raises(RunwareJobError) as caught:
        run_to_end(lipsync(deferrable=True), FakeTI())
    assert caught.value.code == "timeoutProvider"
    assert caught.value.message == "slow gpu"
    assert caught.value.status_code == (200 if job_error_style == "nested" else 400)
    # The retry sees the failed job and renders afresh under the next generation.
    retry = run_to_end(lipsync(deferrable=False), FakeTI())
    assert retry["status"] == "success"
    assert len(emu.admin.submissions()) == 2


def test_a_probe_refused_in_a_way_we_cannot_read_still_submits(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A getResponse refusal that names no task (say, a new validation rule at Runware) must
    # not stop the submission: conflictTaskUUID decides whether the job exists.
    monkeypatch.setattr(RunwareHook, "get_task_state", _refusing_once(RunwareHook.get_task_state))
    result = run_to_end(lipsync(deferrable=False), FakeTI())
    assert result["status"] == "success"
    assert len(emu.admin.submissions()) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_http_408_is_transient_as_runware_s_clients_treat_it(emu: EmulatorServer, deferrable: bool) -> None:
    emu.admin.set_faults([{"kind": "status", "status": 408, "count": 2}])
    result = run_to_end(lipsync(deferrable=deferrable), FakeTI())
    assert result["status"] == "success"
    assert emu.admin.stats()["faults"] == {"status": 2}
    assert len(emu.admin.submissions()) == 1


def _refusing_once(real: Any) -> Any:
    refused: list[str] = []

    def get_task_state(self: RunwareHook, task_uuid: str, **kwargs: Any) -> Any:
        if not refused:
            refused.append(task_uuid)
            raise RunwareAPIError("getResponse refused", code="invalidTaskUUID", status_code=400)
        return real(self, task_uuid, **kwargs)

    return get_task_state


def test_a_retried_upload_does_not_fail_on_its_own_earlier_attempt(
    emu: EmulatorServer, tmp_path: Any
) -> None:
    clip = tmp_path / "voice.wav"
    clip.write_bytes(b"RIFF" + b"\0" * 4000)
    emu.admin.set_faults([{"kind": "lost_after_accept", "task_type": "mediaStorage", "count": 1}])
    media = LocalMedia(
        field="audio", source=str(clip), kind="audio", mime="audio/wav", size=4004, version="1"
    )
    hook = RunwareHook()
    try:
        ack = hook.upload_media(media)
    finally:
        hook.close()
    assert ack["mediaUUID"]
    uploads = [
        r for r in emu.admin.requests() if r.get("tasks") and r["tasks"][0]["taskType"] == "mediaStorage"
    ]
    assert [r["status"] for r in uploads] == [504, 200]
    assert uploads[0]["tasks"][0]["taskUUID"] != uploads[1]["tasks"][0]["taskUUID"]


def test_one_malformed_uuid_in_a_batch_fails_only_its_own_poll(emu: EmulatorServer) -> None:
    jobs = [str(uuid.uuid4()) for _ in range(7)]
    for n, task_uuid in enumerate(jobs):
        op = lipsync(n=n)
        RunwareHook().submit_task({**op.build_request(), "taskUUID": task_uuid})
    bad = "not-a-uuid"
    # Refuse any request carrying the bad UUID, naming no task, as a gateway validator would.
    emu.admin.set_faults([{"kind": "status", "status": 400, "match": bad}])

    async def poll_all() -> tuple[list[Any], BatchPoller]:
        poller = BatchPoller(RunwareHook, window=0.05, max_batch=250)
        poller.acquire()
        try:
            results = await asyncio.gather(
                *(poller.get_state(u) for u in [*jobs, bad]), return_exceptions=True
            )
            return list(results), poller
        finally:
            await poller.release()

    results, poller = asyncio.run(poll_all())
    states, refused = results[:-1], results[-1]
    assert all(getattr(s, "status", None) in ("processing", "success") for s in states), states
    assert isinstance(refused, RunwareAPIError)
    assert poller.stats.isolated_refusals == 1
    assert poller.max_batch == 250  # a refusal caused by one task does not shrink the batches
