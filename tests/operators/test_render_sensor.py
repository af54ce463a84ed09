"""Submit now, wait later: ``wait_for_completion=False`` and ``SyncRenderSensor`` (issue 19, point 1).

Runware is mocked with respx (``FakeRunware``): each test states what the sensor returns,
raises, saves and sends -- and that it never submits.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_sync._compat import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_sync.exceptions import (
    RunwareJobCancelledError,
    RunwareModerationError,
    RunwareSensorTimeoutError,
    RunwareTimeoutError,
    RunwareWaitedJobError,
    SyncValidationError,
)
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY
from airflow_provider_sync.sensors import sync as sensor_module
from airflow_provider_sync.sensors.sync import SyncRenderSensor
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

from ..reliability.conftest import run_to_end
from .conftest import BASE_URL, SUCCESS, FakeRunware, FakeTI, outlet_events
from .test_sync_operators import context, lipsync

UNKNOWN = "8f14e45f-ceea-467f-a0e6-3b0d2a5c9b71"


def sensor(**kwargs: Any) -> SyncRenderSensor:
    params: dict[str, Any] = {"task_id": "wait", "poke_interval": 0.01, "timeout": 30}
    return SyncRenderSensor(**{**params, **kwargs})


def submit(fake: FakeRunware, ti: FakeTI | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run a lip-sync task with wait_for_completion=False; return what it returned."""
    return dict(lipsync(wait_for_completion=False, **kwargs).execute(context(ti or FakeTI(task_id="submit"))))


def after(fake: FakeRunware, mark: int) -> list[str]:
    return [t["taskType"] for t in fake.tasks[mark:]]


# ---------------------------------------------------------------- the operator, not waiting


def test_wait_for_completion_false_returns_the_job_at_once(fake_runware: FakeRunware) -> None:
    ti = FakeTI(task_id="submit")
    out = submit(fake_runware, ti)
    [sent] = fake_runware.submissions
    assert out == {
        "task_uuid": sent["taskUUID"],
        "status": "submitted",
        "submitted": True,
        "model": "sync:lipsync-2@1",
        "output_format": "MP4",
        "delivered_to": None,
        "prior_etag": None,
    }
    assert ti.xcoms["task_uuid"] == sent["taskUUID"]
    # The probe before the submission, the submission, and nothing after it: no polling.
    assert [t["taskType"] for t in fake_runware.tasks] == ["getResponse", "videoInference"]


def test_a_rerun_of_the_submitting_task_re_attaches_to_its_one_job(fake_runware: FakeRunware) -> None:
    first = submit(fake_runware)
    mark = len(fake_runware.tasks)
    again = submit(fake_runware)
    assert again["task_uuid"] == first["task_uuid"]
    assert (first["submitted"], again["submitted"]) == (True, False)
    assert after(fake_runware, mark) == ["getResponse"]  # the probe found the job
    assert len(fake_runware.submissions) == 1


def test_wait_for_completion_is_a_literal_switch() -> None:
    with pytest.raises(SyncValidationError, match="wait_for_completion"):
        lipsync(wait_for_completion="{{ params.wait }}")


def test_an_output_path_only_the_worker_could_write_is_refused_before_anything_is_sent(
    fake_runware: FakeRunware, tmp_path: Any
) -> None:
    with pytest.raises(SyncValidationError, match=r"output_path.*SyncRenderSensor"):
        submit(fake_runware, output_path=str(tmp_path / "take.mp4"))
    assert fake_runware.tasks == []


# ---------------------------------------------------------------- the sensor's result


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_the_sensor_returns_what_the_operator_would_have(fake_runware: FakeRunware, deferrable: bool) -> None:
    # The same job waited for by the operator itself, and by a sensor given its submission.
    waited = run_to_end(lipsync(deferrable=deferrable), FakeTI(task_id="submit"))
    ti = FakeTI(task_id="wait")
    submission = {**submit(fake_runware), "task_uuid": waited["task_uuid"]}
    mark = len(fake_runware.tasks)
    result = run_to_end(sensor(task_uuid=submission, deferrable=deferrable), ti)
    assert {k: v for k, v in result.items() if k != "elapsed"} == {
        k: v for k, v in waited.items() if k != "elapsed"
    }
    assert ti.xcoms[VIDEO_URL_XCOM_KEY] == SUCCESS["videoURL"]
    assert ti.xcoms["task_uuid"] == waited["task_uuid"]
    assert set(after(fake_runware, mark)) == {"getResponse"}  # a sensor never submits
    assert len(fake_runware.submissions) == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_the_sensor_waits_until_the_job_ends(fake_runware: FakeRunware, deferrable: bool) -> None:
    fake_runware.script = [{"status": "processing"}] * 3 + [SUCCESS]
    job = submit(fake_runware)
    result = run_to_end(sensor(task_uuid=job, deferrable=deferrable), FakeTI(task_id="wait"))
    assert result["status"] == "success"
    assert result["task_uuid"] == job["task_uuid"]
    assert result["model"] == "sync:lipsync-2@1"
    polls = [t for t in fake_runware.tasks if t["taskType"] == "getResponse"]
    assert len(polls) >= 1 + 4  # the submitting task's probe, then every answer up to the success


def test_a_job_that_ended_already_is_finished_without_deferring(fake_runware: FakeRunware) -> None:
    fake_runware.script = [SUCCESS]
    job = submit(fake_runware)
    result = sensor(task_uuid=job, deferrable=True).execute(context(FakeTI(task_id="wait")))
    assert result["video_url"] == SUCCESS["videoURL"]


def test_a_bare_task_uuid_gives_the_result_without_the_model(fake_runware: FakeRunware) -> None:
    job = submit(fake_runware, output_format="WEBM")
    fake_runware.jobs[job["task_uuid"]] = [{**SUCCESS, "videoURL": "https://im.runware.test/video/v-1.webm"}]
    result = run_to_end(sensor(task_uuid=f"  {job['task_uuid']} "), FakeTI(task_id="wait"))
    assert result["task_uuid"] == job["task_uuid"]
    assert result["model"] is None
    assert result["output_format"] == "WEBM"  # read from the video's URL


def test_the_sensor_saves_the_video_and_emits_the_asset_event(runware_conn: str, tmp_path: Any) -> None:
    fake = FakeRunware()
    fake.script = [SUCCESS]
    out_dir = tmp_path / "renders"
    events = outlet_events()
    with respx.mock:
        respx.post(BASE_URL).mock(side_effect=fake.handler)
        respx.get(SUCCESS["videoURL"]).mock(return_value=httpx.Response(200, content=b"\x00video" * 100))
        job = submit(fake)
        wait = sensor(task_uuid=job, output_path=f"{out_dir}/", output_asset="sync_renders", deferrable=False)
        result = wait.execute(context(FakeTI(task_id="wait"), outlet_events=events))
    target = out_dir / f"{job['task_uuid']}.mp4"
    assert target.read_bytes() == b"\x00video" * 100
    assert (result["output_path"], result["output_bytes"]) == (str(target), 600)
    assert events[wait.output_asset].extra == {
        "task_uuid": job["task_uuid"],
        "model": "sync:lipsync-2@1",
        "video_url": SUCCESS["videoURL"],
        "output_path": str(target),
        "cost": SUCCESS["cost"],
    }
    if importlib.util.find_spec("airflow.providers.openlineage") is not None:  # not in make compat's venvs
        assert wait.get_openlineage_facets_on_complete(None).outputs[0].name == str(target)


def test_an_existing_output_file_is_refused_before_waiting(fake_runware: FakeRunware, tmp_path: Any) -> None:
    job = submit(fake_runware)
    target = tmp_path / "take.mp4"
    target.write_bytes(b"keep")
    mark = len(fake_runware.tasks)
    with pytest.raises(SyncValidationError, match="already exists"):
        sensor(task_uuid=job, output_path=str(target)).execute(context(FakeTI(task_id="wait")))
    assert fake_runware.tasks[mark:] == []
    assert target.read_bytes() == b"keep"


def test_a_delivery_from_xcom_outside_the_allowed_roots_is_refused(fake_runware: FakeRunware) -> None:
    job = submit(fake_runware)
    forged = {**job, "delivered_to": "s3://other-team/secret.mp4"}
    # Through XCom (a run-time value): held to the allowed media roots like output_path.
    wait = sensor(task_uuid="{{ ti.xcom_pull('submit') }}")
    wait.task_uuid = forged  # what rendering the XCom reference gives
    mark = len(fake_runware.tasks)
    with pytest.raises(SyncValidationError, match=r"s3://other-team/secret\.mp4"):
        wait.execute(context(FakeTI(task_id="wait")))
    assert fake_runware.tasks[mark:] == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("value", ["not-a-uuid", "", {"status": "submitted"}, 42])
def test_a_literal_task_uuid_that_is_no_uuid_fails_when_the_dag_is_parsed(value: Any) -> None:
    with pytest.raises(SyncValidationError, match="task_uuid"):
        sensor(task_uuid=value)


def test_a_templated_task_uuid_rendering_none_fails_before_any_request(fake_runware: FakeRunware) -> None:
    # As an XCom pull of a task that pushed nothing renders.
    wait = sensor(task_uuid="{{ params.job }}")
    wait.render_template_fields(context(FakeTI(task_id="wait"), params={"job": None}))
    with pytest.raises(SyncValidationError, match="task_uuid: 'None' is not a Runware task UUID"):
        wait.execute(context(FakeTI(task_id="wait")))
    assert fake_runware.tasks == []


def test_the_sensors_signature_shows_its_parameters_with_the_operators_defaults() -> None:
    import inspect
    import re

    from airflow_provider_sync.operators import parameters

    params = inspect.signature(SyncRenderSensor.__init__).parameters
    assert params["runware_conn_id"].default is parameters.CONN_ID
    assert params["poke_interval"].default is parameters.POLL_INTERVAL
    assert params["timeout"].default is parameters.TIMEOUT
    assert params["task_uuid"].default is inspect.Parameter.empty
    documented = set(re.findall(r":param (\w+):", SyncRenderSensor.__doc__ or ""))
    assert documented == {n for n, p in params.items() if n != "self" and p.kind is p.KEYWORD_ONLY}


def test_hook_params_are_checked_when_the_dag_is_parsed_and_reach_the_hook(runware_conn: str) -> None:
    with pytest.raises(SyncValidationError, match="hook_params: timeout"):
        sensor(task_uuid=UNKNOWN, hook_params={"timeout": 0})
    # The connection says max_attempts=3.
    assert sensor(task_uuid=UNKNOWN, hook_params={"max_attempts": 2}).hook.settings.max_attempts == 2
    assert sensor(task_uuid=UNKNOWN).hook.settings.max_attempts == 3


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_failed_job_fails_the_sensor_typed_and_without_retries(
    fake_runware: FakeRunware, deferrable: bool
) -> None:
    fake_runware.script = [{"status": "error", "error": {"code": "timeoutProvider", "message": "gave up"}}]
    job = submit(fake_runware)
    mark = len(fake_runware.tasks)
    with pytest.raises(RunwareWaitedJobError) as err:
        run_to_end(sensor(task_uuid=job, deferrable=deferrable), FakeTI(task_id="wait"))
    assert isinstance(err.value, AirflowFailException)  # a retry would find the same failed job
    assert (err.value.code, err.value.task_uuid) == ("timeoutProvider", job["task_uuid"])
    assert f"Runware job {job['task_uuid']} ended in error (timeoutProvider: gave up)" in str(err.value)
    assert "submits nothing" in str(err.value)
    assert set(after(fake_runware, mark)) == {"getResponse"}


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"code": "contentPolicyViolation", "message": "refused"}, RunwareModerationError),
        ({"code": "taskCancelled", "message": "stopped"}, RunwareJobCancelledError),
    ],
)
def test_a_job_error_keeps_its_own_class(fake_runware: FakeRunware, error: dict[str, Any], cls: type) -> None:
    fake_runware.script = [{"status": "error", "error": error}]
    job = submit(fake_runware)
    with pytest.raises(cls) as err:
        run_to_end(sensor(task_uuid=job, deferrable=False), FakeTI(task_id="wait"))
    assert err.value.code == error["code"]
    assert job["task_uuid"] in str(err.value)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_task_uuid_runware_does_not_know_fails_after_the_grace_naming_it(
    fake_runware: FakeRunware, monkeypatch: pytest.MonkeyPatch, deferrable: bool
) -> None:
    monkeypatch.setattr(sensor_module, "NOT_FOUND_GRACE", 0.05)
    with pytest.raises(RunwareWaitedJobError) as err:
        run_to_end(sensor(task_uuid=UNKNOWN, deferrable=deferrable), FakeTI(task_id="wait"))
    assert (err.value.code, err.value.task_uuid) == ("taskNotFound", UNKNOWN)
    assert f"Runware has not known task {UNKNOWN}" in str(err.value)
    assert "runware_conn_id" in str(err.value)
    polls = [t for t in fake_runware.tasks if t["taskType"] == "getResponse"]
    assert len(polls) >= 2  # one "not found" is not believed: the grace came first
    assert fake_runware.submissions == []


# ---------------------------------------------------------------- timeouts


def test_the_sensors_timeout_in_the_worker_names_the_job(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    job = submit(fake_runware)
    with pytest.raises(RunwareSensorTimeoutError) as err:
        sensor(task_uuid=job, deferrable=False, timeout=0.2).execute(context(FakeTI(task_id="wait")))
    assert isinstance(err.value, AirflowSensorTimeout)  # Airflow: no retries for a sensor timeout
    assert err.value.task_uuid == job["task_uuid"]
    assert f"Runware task {job['task_uuid']} did not end within the sensor's timeout" in str(err.value)
    assert "last status: processing" in str(err.value)
    assert len(fake_runware.submissions) == 1


def test_the_sensors_timeout_when_deferred_names_the_job(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    job = submit(fake_runware)
    wait = sensor(task_uuid=job, deferrable=True, timeout=0.2)
    with pytest.raises(TaskDeferred) as deferred:
        wait.execute(context(FakeTI(task_id="wait")))
    trigger = deferred.value.trigger
    assert isinstance(trigger, RunwareTaskTrigger)
    assert trigger.deadline is not None
    assert deferred.value.timeout is not None
    assert deferred.value.timeout.total_seconds() > trigger.deadline - trigger.started  # a backstop
    with pytest.raises(RunwareSensorTimeoutError) as err:
        run_to_end(sensor(task_uuid=job, deferrable=True, timeout=0.2), FakeTI(task_id="wait"))
    assert f"Runware task {job['task_uuid']} did not end within the sensor's timeout" in str(err.value)
    assert "last status: processing" in str(err.value)  # from the trigger's event


def test_soft_fail_skips_a_timed_out_sensor(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    job = submit(fake_runware)
    with pytest.raises(AirflowSkipException):
        sensor(task_uuid=job, deferrable=False, timeout=0.2, soft_fail=True).execute(context())


def test_an_earlier_execution_timeout_sets_the_deadline_and_is_retried(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    job = submit(fake_runware)
    ti = FakeTI(task_id="wait")
    ti.start_date = datetime.now(timezone.utc)  # type: ignore[attr-defined]
    wait = sensor(task_uuid=job, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=0.3))
    with pytest.raises(RunwareTimeoutError) as err:
        run_to_end(wait, ti)
    assert not isinstance(err.value, AirflowSensorTimeout)  # Airflow's retries apply, as to any task
    assert "execution_timeout came before the sensor's timeout" in str(err.value)


def test_airflow_ending_the_deferral_names_the_job(fake_runware: FakeRunware) -> None:
    job = submit(fake_runware)
    # What Airflow resumes a deferred task with when its deferral's timeout passed.
    with pytest.raises(RunwareSensorTimeoutError) as err:
        sensor(task_uuid=job).resume_execution("__fail__", {"error": "Trigger timeout"}, context())
    assert isinstance(err.value, AirflowSensorTimeout)
    assert err.value.task_uuid == job["task_uuid"]
    with pytest.raises(AirflowSkipException):
        sensor(task_uuid=job, soft_fail=True).resume_execution(
            "__fail__", {"error": "Trigger timeout"}, context()
        )


# ---------------------------------------------------------------- worker modes


#: Airflow 2.11's sensor reads its first reschedule from the metadata DB (TaskReschedule),
#: not from the task instance these tests fake.
reads_reschedules_from_the_ti = pytest.mark.skipif(
    importlib.util.find_spec("airflow.sdk") is None,
    reason="Airflow 2.11's sensor reads its reschedules from the metadata DB, not the faked TI",
)


class RescheduledTI(FakeTI):
    """A task instance that remembers when its first poke ran (as Airflow does between reschedules)."""

    first: datetime | None = None
    max_tries = 0  # Airflow 2.11's sensor reads it in reschedule mode

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first


@reads_reschedules_from_the_ti
def test_reschedule_mode_frees_the_slot_between_polls_and_finishes_later(fake_runware: FakeRunware) -> None:
    try:
        from airflow.sdk.exceptions import AirflowRescheduleException
    except ImportError:  # Airflow 2.11
        from airflow.exceptions import AirflowRescheduleException

    fake_runware.script = [{"status": "processing"}, SUCCESS]
    job = submit(fake_runware)
    ti = RescheduledTI(task_id="wait")
    with pytest.raises(AirflowRescheduleException):
        sensor(task_uuid=job, deferrable=False, mode="reschedule").execute(context(ti))
    ti.first = datetime.now(timezone.utc)
    # The next poke runs in a new process: a new sensor object.
    result = sensor(task_uuid=job, deferrable=False, mode="reschedule").execute(context(ti))
    assert result["task_uuid"] == job["task_uuid"]
    assert len(fake_runware.submissions) == 1


@reads_reschedules_from_the_ti
def test_reschedule_mode_counts_not_found_from_the_first_poke(
    fake_runware: FakeRunware, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensor_module, "NOT_FOUND_GRACE", 60.0)
    ti = RescheduledTI(task_id="wait")
    ti.first = datetime.now(timezone.utc) - timedelta(seconds=61)
    with pytest.raises(RunwareWaitedJobError, match="taskNotFound"):
        sensor(task_uuid=UNKNOWN, deferrable=False, mode="reschedule").execute(context(ti))


def test_the_trigger_waits_for_the_delivery_the_submission_names(
    fake_runware: FakeRunware, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = {**submit(fake_runware), "delivered_to": "s3://renders/ep1/take.mp4", "prior_etag": '"e0"'}
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", "s3://renders/")
    monkeypatch.setattr(
        "airflow_provider_sync.output_delivery.check_url",
        lambda target, life: f"https://s3.test/{target[5:]}?X-Amz-Signature=s",
    )
    fake_runware.script = [{"status": "processing"}]
    with pytest.raises(TaskDeferred) as deferred:
        sensor(task_uuid=job, deferrable=True).execute(context(FakeTI(task_id="wait")))
    trigger = deferred.value.trigger
    assert trigger.delivery_check_url == "https://s3.test/renders/ep1/take.mp4?X-Amz-Signature=s"
    assert trigger.delivery_prior_etag == '"e0"'
    assert trigger.resume["delivered_to"] == "s3://renders/ep1/take.mp4"


def test_the_deferred_sensor_hands_the_trigger_what_rebuilds_it(fake_runware: FakeRunware) -> None:
    # The operators' trigger: serialisable, so a restarted triggerer picks up the same wait.
    job = submit(fake_runware)
    fake_runware.script = [{"status": "processing"}]
    with pytest.raises(TaskDeferred) as deferred:
        sensor(task_uuid=job).execute(context(FakeTI(task_id="wait")))
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow_provider_sync.triggers.runware.RunwareTaskTrigger"
    assert RunwareTaskTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert kwargs["task_uuid"] == job["task_uuid"]
    assert kwargs["resume"]["model"] == "sync:lipsync-2@1"
    assert deferred.value.method_name == "execute_complete"
