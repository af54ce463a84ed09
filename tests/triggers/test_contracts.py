"""Contracts that outlive one process: a trigger's serialised form (stored in the metadata
database, rebuilt by a triggerer that may run a newer version) and the error classes an
event names."""

from __future__ import annotations

import pytest

from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareJobCancelledError,
    RunwareJobError,
    RunwareModerationError,
    RunwareTimeoutError,
    RunwareTransientError,
    RunwareUploadFailedError,
)
from airflow_provider_sync.job_watch import JobWatch
from airflow_provider_sync.payloads import ERROR_CLASSES, error_class, error_class_name, error_from_details
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

UUID = "7a3e1c5b-2d4f-4a6b-8c9d-0e1f2a3b4c5d"


def test_the_trigger_serialises_to_a_stable_classpath_and_kwargs() -> None:
    trigger = RunwareTaskTrigger(
        task_uuid=UUID,
        runware_conn_id="rw",
        poll_interval=7,
        deadline=2000.0,
        first_poll_delay=3.0,
        started=1000.0,
        not_found_grace=90,
        ramp=True,
    )
    classpath, kwargs = trigger.serialize()
    # Triggers already stored in the database are rebuilt from exactly this: moving the class
    # or renaming an argument breaks every render in flight during an upgrade.
    assert classpath == "airflow_provider_sync.triggers.runware.RunwareTaskTrigger"
    assert kwargs == {
        "task_uuid": UUID,
        "runware_conn_id": "rw",
        "poll_interval": 7.0,
        "deadline": 2000.0,
        "first_poll_delay": 3.0,
        "started": 1000.0,
        "not_found_grace": 90.0,
        "ramp": True,
        "resume": None,
        "delivery_check_url": None,
        "delivery_prior_etag": None,
        "delivery_wait": 60.0,
    }
    rebuilt = RunwareTaskTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    # A trigger stored by an earlier version (without the later arguments) still rebuilds.
    earlier = {k: v for k, v in kwargs.items() if k not in ("resume", "delivery_check_url")}
    earlier = {k: v for k, v in earlier.items() if not k.startswith("delivery_")}
    assert RunwareTaskTrigger(**earlier).serialize() == (classpath, kwargs)


def test_the_trigger_never_shows_the_delivery_check_s_signature() -> None:
    signed = "https://bucket.s3.amazonaws.com/out/a.mp4?X-Amz-Signature=abc123&X-Amz-Credential=AKIA"
    trigger = RunwareTaskTrigger(
        task_uuid=UUID, resume={"model": "sync:lipsync-2@1"}, delivery_check_url=signed
    )
    shown = repr(trigger)
    assert "https://bucket.s3.amazonaws.com/out/a.mp4" in shown
    assert "abc123" not in shown
    assert "AKIA" not in shown
    assert trigger.serialize()[1]["delivery_check_url"] == signed  # the real one is kept


def test_the_error_classes_an_event_may_name_are_pinned() -> None:
    assert dict(ERROR_CLASSES) == {
        "RunwareAPIError": RunwareAPIError,
        "RunwareAuthError": RunwareAuthError,
        "RunwareInsufficientCreditsError": RunwareInsufficientCreditsError,
        "RunwareJobError": RunwareJobError,
        "RunwareModerationError": RunwareModerationError,
        "RunwareJobCancelledError": RunwareJobCancelledError,
        "RunwareUploadFailedError": RunwareUploadFailedError,
    }


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (RunwareAuthError("no", code="invalidApiKey"), "RunwareAuthError"),
        (RunwareInsufficientCreditsError("broke"), "RunwareInsufficientCreditsError"),
        (RunwareAPIError("bad", code="invalidParameter"), "RunwareAPIError"),
        (RunwareJobError("failed", code="timeoutProvider"), "RunwareJobError"),
        (RunwareModerationError("refused", code="contentPolicyViolation"), "RunwareModerationError"),
        (RunwareJobCancelledError("stopped", code="taskCancelled"), "RunwareJobCancelledError"),
        (RunwareUploadFailedError("no PUT", code="uploadFailed"), "RunwareUploadFailedError"),
        # Classes an event cannot carry are read back as a job error (retried by Airflow).
        (RunwareTransientError("blip"), "RunwareJobError"),
        (RunwareTimeoutError("late"), "RunwareJobError"),
        (None, "RunwareJobError"),
    ],
)
def test_an_error_event_round_trips_to_the_class_the_worker_raises(
    error: RunwareError | None, name: str
) -> None:
    event = JobWatch(UUID, started=0.0).error_event(error, now=1.0)
    assert event["error"]["error_class"] == name
    assert error_class(event["error"]["error_class"]) is ERROR_CLASSES[name]


def test_an_unknown_name_from_an_old_or_foreign_event_is_a_job_error() -> None:
    assert error_class("SomethingRenamed") is RunwareJobError
    assert error_class(None) is RunwareJobError
    assert error_class_name(RunwareAuthError("x")) == "RunwareAuthError"


def test_a_failed_delivery_travels_with_the_video_url_and_is_raised_with_it() -> None:
    error = RunwareUploadFailedError(
        "PUT refused", code="uploadFailed", video_url="https://vm.test/v.mp4", video_uuid="v-1"
    )
    event = JobWatch(UUID, started=0.0).error_event(error, now=1.0)
    assert (event["error"]["video_url"], event["error"]["video_uuid"]) == ("https://vm.test/v.mp4", "v-1")
    raised = error_from_details(event["error"], UUID)
    assert isinstance(raised, RunwareUploadFailedError)
    assert (raised.video_url, raised.video_uuid, raised.code, raised.task_uuid) == (
        "https://vm.test/v.mp4",
        "v-1",
        "uploadFailed",
        UUID,
    )


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_every_event_error_class_is_rebuilt_as_itself(name: str) -> None:
    details = {"code": "c", "message": "m", "task_uuid": None, "error_class": name, "status_code": 400}
    raised = error_from_details(details, UUID)
    assert type(raised) is ERROR_CLASSES[name]
    assert (raised.message, raised.task_uuid, raised.status_code) == ("m", UUID, 400)
