"""The wait state machine shared by the trigger and worker polling, with a fake clock."""

from __future__ import annotations

import pytest

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareJobError,
    RunwareTransientError,
)
from airflow_provider_sync.job_watch import JobWatch, format_duration
from airflow_provider_sync.protocol import TaskState

UUID = "0b8f5c1e-9a0d-4c53-a1f4-7b0e2c3d4e5f"


def test_progress_is_logged_at_the_first_poll_then_once_a_minute_not_once_per_poll() -> None:
    watch = JobWatch(UUID, started=0.0)
    due = [
        t
        for t in range(0, 301, 2)
        if watch.on_state(TaskState(UUID, "processing"), now=t) is None and watch.progress_due(now=t)
    ]
    assert due == [0, 60, 120, 180, 240, 300]
    line = watch.progress_line(now=300)
    assert UUID in line
    assert "5m00s" in line
    assert "processing" in line


def test_a_change_of_status_is_logged_at_once() -> None:
    watch = JobWatch(UUID, started=0.0)
    watch.on_state(TaskState(UUID, "not_found"), now=1)
    assert watch.progress_due(now=1)
    watch.on_state(TaskState(UUID, "not_found"), now=3)
    assert not watch.progress_due(now=3)
    watch.on_state(TaskState(UUID, "processing"), now=5)
    assert watch.progress_due(now=5)
    assert "processing" in watch.progress_line(now=5)


def test_success_error_and_timeout_events() -> None:
    watch = JobWatch(UUID, started=100.0, deadline=200.0)
    assert watch.check_deadline(now=150) is None
    ok = watch.on_state(TaskState(UUID, "success", result={"videoURL": "u"}), now=130)
    assert ok == {
        "status": "success",
        "task_uuid": UUID,
        "elapsed": 30.0,
        "polls": 1,
        "result": {"videoURL": "u"},
    }
    err = watch.on_state(
        TaskState(UUID, "error", error=RunwareJobError("bad audio", code="invalidAudio")), now=140
    )
    assert err is not None
    assert (err["status"], err["error"]["code"], err["error"]["message"]) == (
        "error",
        "invalidAudio",
        "bad audio",
    )
    timeout = watch.check_deadline(now=200)
    assert timeout is not None
    assert timeout["status"] == "timeout"
    assert UUID in timeout["message"]
    assert "1m40s" in timeout["message"]


def test_not_found_is_tolerated_for_the_grace_period_then_fails() -> None:
    watch = JobWatch(UUID, started=0.0, not_found_grace=120)
    missing = TaskState(UUID, "not_found")
    assert watch.on_state(missing, now=10) is None
    assert watch.on_state(missing, now=129) is None
    assert watch.on_state(TaskState(UUID, "processing"), now=130) is None  # found again: clock resets
    assert watch.on_state(missing, now=140) is None
    event = watch.on_state(missing, now=260)
    assert event is not None
    assert event["error"]["code"] == "taskNotFound"


def test_transient_poll_failures_keep_waiting_permanent_ones_end_it() -> None:
    watch = JobWatch(UUID, started=0.0)
    assert watch.on_failure(RunwareTransientError("503"), now=1) is None
    assert watch.transient_failures == 1
    event = watch.on_failure(RunwareAuthError("Invalid API key", code="invalidApiKey"), now=2)
    assert event is not None
    assert event["error"]["error_class"] == "RunwareAuthError"
    with pytest.raises(ZeroDivisionError):
        watch.on_failure(ZeroDivisionError(), now=3)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.4, "59s"), (75.2, "1m15s"), (3725, "1h02m05s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_an_unreadable_item_in_a_batch_is_a_failed_poll_not_a_state() -> None:
    watch = JobWatch("u", started=0.0, deadline=100.0)
    blip = TaskState("u", "unreadable", error=RunwareTransientError("odd item"))
    assert watch.on_state(blip, now=1.0) is None
    assert (watch.transient_failures, watch.polls, watch.last_status) == (1, 0, "submitted")
    refused = TaskState("u", "unreadable", error=RunwareAPIError("refused alone", code="invalidTaskUUID"))
    event = watch.on_state(refused, now=2.0)
    assert event is not None
    assert event["status"] == "error"
    assert event["error"]["code"] == "invalidTaskUUID"
