"""Jobs that must not lead to a second paid render (issue 17, point 5 of the issue, point 3 of
the operator's half): ``uploadFailed`` (Runware rendered and billed, only its PUT to
``uploadEndpoint`` failed) and ``taskCancelled``; and delivery details that are not the job's
identity (a ``webhook_url`` whose token changes per try)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.exceptions import (
    RunwareJobCancelledError,
    RunwareTimeoutError,
    RunwareUploadFailedError,
)
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..emulator.loopback_store import Store
from ..operators.conftest import FakeTI
from .conftest import lipsync, run_to_end

pytestmark = pytest.mark.integration


@dataclass
class TryTI(FakeTI):
    """A task instance with a try number (what ``force_new_job`` reads)."""

    try_number: int = 1


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    try:
        yield s
    finally:
        s.close()


def _videos(emu: EmulatorServer) -> list[str]:
    return [j["taskUUID"] for j in emu.admin.jobs()]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_an_undelivered_job_with_a_video_url_is_taken_from_there_not_rendered_again(
    emu: EmulatorServer, store: Store, tmp_path: Path, deferrable: bool
) -> None:
    emu.admin.set_faults([{"kind": "upload_failed", "video_url": True, "count": 1}])
    target = tmp_path / "out" / "clip.mp4"
    op = lipsync(deferrable=deferrable, upload_endpoint=f"{store.url}/deny/clip.mp4", output_path=str(target))
    result = run_to_end(op, TryTI())
    [job] = emu.admin.jobs()
    assert job["status"] == "error"
    assert job["code"] == "uploadFailed"
    assert result["task_uuid"] == job["taskUUID"]
    assert result["video_url"] == job["videoURL"]
    assert result["output_path"] == str(target)
    assert target.stat().st_size == result["output_bytes"] > 0
    # A rerun (Airflow's retry, a cleared task) re-attaches to it too: still one paid job.
    again = run_to_end(
        lipsync(deferrable=deferrable, upload_endpoint=f"{store.url}/deny/clip.mp4"), TryTI(try_number=2)
    )
    assert again["video_url"] == job["videoURL"]
    assert len(emu.admin.submissions()) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_an_undelivered_job_without_a_video_url_fails_naming_the_job_and_the_ways_out(
    emu: EmulatorServer, store: Store, deferrable: bool
) -> None:
    emu.admin.set_faults([{"kind": "upload_failed", "video_url": False, "count": 1}])
    endpoint = f"{store.url}/deny/clip.mp4"
    with pytest.raises(RunwareUploadFailedError) as first:
        run_to_end(lipsync(deferrable=deferrable, upload_endpoint=endpoint), TryTI())
    [task_uuid] = emu.admin.submissions()
    # A retry re-attaches and fails the same way, never paying again.
    with pytest.raises(RunwareUploadFailedError) as retried:
        run_to_end(lipsync(deferrable=deferrable, upload_endpoint=endpoint), TryTI(try_number=2))
    for raised in (first.value, retried.value):
        message = str(raised)
        assert task_uuid in message
        assert "force_new_job" in message
        assert 'output_transfer="download"' in message
    assert emu.admin.submissions() == [task_uuid]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_cancelled_job_fails_naming_it_and_force_new_job_and_is_not_rendered_again(
    emu: EmulatorServer, deferrable: bool
) -> None:
    emu.admin.set_faults([{"kind": "cancel", "count": 1}])
    with pytest.raises(RunwareJobCancelledError) as first:
        run_to_end(lipsync(deferrable=deferrable), TryTI())
    [task_uuid] = emu.admin.submissions()
    with pytest.raises(RunwareJobCancelledError) as retried:
        run_to_end(lipsync(deferrable=deferrable), TryTI(try_number=2))
    for raised in (first.value, retried.value):
        assert task_uuid in str(raised)
        assert "force_new_job" in str(raised)
    assert emu.admin.submissions() == [task_uuid]
    # Asked for explicitly, a new try renders afresh.
    result = run_to_end(lipsync(deferrable=deferrable, force_new_job=True), TryTI(try_number=3))
    assert result["status"] == "success"
    assert len(emu.admin.submissions()) == 2


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_webhook_token_that_changes_per_try_re_attaches_to_one_job(
    emu: EmulatorServer, deferrable: bool
) -> None:
    # Runware's webhook docs suggest authenticating by a token in the URL's query; a DAG
    # templating a fresh one per try must not pay for a second render.
    webhook = "https://hooks.example.com/runware?token={{ ti.try_number }}-{{ params.secret }}"

    def attempt(try_number: int, timeout: float) -> dict[str, Any]:
        ti = TryTI(try_number=try_number)
        op = lipsync(deferrable=deferrable, webhook_url=webhook, timeout=timeout)
        op.render_template_fields({"ti": ti, "params": {"secret": f"s{try_number}"}})  # type: ignore[arg-type]
        assert op.webhook_url == f"https://hooks.example.com/runware?token={try_number}-s{try_number}"
        return run_to_end(op, ti)

    emu.admin.configure(render_seconds=600)  # still rendering when the first try gives up
    with pytest.raises(RunwareTimeoutError):
        attempt(1, timeout=0.5)
    [task_uuid] = emu.admin.submissions()
    emu.admin.complete(task_uuid)
    done = attempt(2, timeout=30)
    assert done["task_uuid"] == task_uuid
    assert emu.admin.submissions() == [task_uuid]
    sent = [t for t in emu.admin.requests_tasks() if t.get("taskType") == "videoInference"]
    assert [t["webhookURL"].rsplit("=", 1)[-1] for t in sent] == ["1-s1"]  # only the first try submitted
