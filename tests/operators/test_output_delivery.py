"""Finishing a job: what the resumed task reads from the trigger's event, what a success must
hold to be a result, and how the wait is bounded (issue 17, points 1, 2 and 4)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_sync import output_delivery
from airflow_provider_sync._compat import TaskDeferred
from airflow_provider_sync.exceptions import RunwareJobError, RunwareTimeoutError
from airflow_provider_sync.output_delivery import OutputTarget, json_safe, place_output
from airflow_provider_sync.paths import MediaRoots
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

from ..reliability.conftest import run_to_end
from .conftest import SUCCESS, FakeRunware, FakeTI, outlet_events
from .test_sync_operators import context, lipsync

NO_VIDEO = {k: v for k, v in SUCCESS.items() if k != "videoURL"}


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker"])
def test_a_success_without_video_url_is_not_a_result(fake_runware: FakeRunware, deferrable: bool) -> None:
    fake_runware.script = [NO_VIDEO]
    op = lipsync(deferrable=deferrable)
    with pytest.raises(RunwareJobError) as err:
        run_to_end(op, FakeTI())
    task_uuid = fake_runware.submissions[0]["taskUUID"]
    assert err.value.code == "missingVideo"
    assert err.value.task_uuid == task_uuid
    assert f"job {task_uuid} as succeeded, but its answer has no videoURL" in str(err.value)
    assert "re-attaches" in str(err.value)


@pytest.mark.parametrize(
    "cost",
    [float("inf"), float("-inf"), float("nan"), -0.5, True, "0.2", {"usd": 1}, [0.1], 10**400],
    ids=["inf", "-inf", "nan", "negative", "bool", "string", "object", "list", "huge-int"],
)
def test_a_cost_that_is_not_a_number_of_dollars_never_reaches_xcom_or_the_asset(
    cost: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    op = lipsync(output_asset="s3://renders")
    ctx = {**context(), "outlet_events": outlet_events()}
    result = {**SUCCESS, "cost": cost, "extras": {"score": float("inf"), "ok": [1.5, float("nan")]}}
    out = op.execute_complete(ctx, {"status": "success", "task_uuid": "u-1", "result": result})
    assert out["cost"] is None
    assert out["raw"]["cost"] is None
    assert out["raw"]["extras"] == {"score": None, "ok": [1.5, None]}
    assert ctx["outlet_events"][op.output_asset].extra["cost"] is None
    assert "u-1 reported a cost that is not a number" in "".join(capsys.readouterr())
    import json

    json.dumps(out, allow_nan=False)  # strict JSON, as a metadata database stores it


def test_valid_costs_pass_unchanged() -> None:
    ctx = context()
    for cost in (0, 0.264, 12):
        out = lipsync().execute_complete(
            ctx, {"status": "success", "task_uuid": "u", "result": {**SUCCESS, "cost": cost}}
        )
        assert out["cost"] == out["raw"]["cost"] == cost
    assert json_safe({"a": [1.0, {"b": float("nan")}]}) == {"a": [1.0, {"b": None}]}


def test_the_resume_payload_in_the_event_is_enough_to_finish() -> None:
    # dag.test() resumes with the event alone: no kwargs.
    event = {
        "status": "success",
        "task_uuid": "u-1",
        "result": SUCCESS,
        "resume": {"model": "sync:lipsync-2-pro@1", "output_format": "MOV"},
    }
    out = lipsync().execute_complete(context(), event)
    assert (out["model"], out["output_format"]) == ("sync:lipsync-2-pro@1", "MOV")
    # An event from a trigger deferred by an earlier version, with defer()'s kwargs.
    old = {"status": "success", "task_uuid": "u-1", "result": SUCCESS}
    out = lipsync().execute_complete(context(), old, model="sync:lipsync-2@1", delivered_to=None)
    assert out["model"] == "sync:lipsync-2@1"


def test_the_deferral_carries_its_resume_payload_and_airflow_s_own_timeout(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    op = lipsync(deferrable=True, timeout=timedelta(minutes=10), output_format="webm")
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, RunwareTaskTrigger)
    # Nothing relies on defer()'s kwargs (dag.test drops them): it all travels with the trigger.
    assert not deferred.value.kwargs
    assert trigger.resume == {
        "model": "sync:lipsync-2@1",
        "output_format": "WEBM",
        "delivered_to": None,
        "prior_etag": None,
        "deadline_from": "timeout",
    }
    assert trigger.deadline is not None
    assert before + 600 <= trigger.deadline <= time.time() + 600
    # Airflow's own deferral timeout backs the trigger's deadline up, with room for the
    # delivery wait: it never ends the wait before the trigger's deadline.
    assert deferred.value.timeout is not None
    assert deferred.value.timeout > timedelta(seconds=trigger.deadline - time.time())
    assert deferred.value.timeout <= timedelta(seconds=600 + output_delivery.DELIVERY_WAIT + 60)


def test_execution_timeout_bounds_the_deferred_wait_when_it_comes_first(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    op = lipsync(deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=30))
    started = datetime.now(timezone.utc) - timedelta(seconds=10)  # the try began 10 s ago
    ti = FakeTI()
    ti.start_date = started  # type: ignore[attr-defined]
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(ti))
    trigger = deferred.value.trigger
    assert trigger.deadline == pytest.approx(started.timestamp() + 30, abs=0.01)
    assert trigger.resume["deadline_from"] == "execution_timeout"
    with pytest.raises(RunwareTimeoutError, match="execution_timeout"):
        op.execute_complete(
            context(ti),
            {
                "status": "timeout",
                "task_uuid": trigger.task_uuid,
                "message": f"Runware task {trigger.task_uuid} did not finish",
                "resume": trigger.resume,
            },
        )


class PullingTI(FakeTI):
    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value") -> Any:
        return self.xcoms.get(key)


@pytest.mark.parametrize("error", ["Trigger/execution timeout", "Trigger failure"])
def test_when_airflow_ends_the_deferral_the_failure_names_the_job(error: str) -> None:
    ti = PullingTI()
    ti.xcoms["task_uuid"] = "7a3e1c5b-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
    with pytest.raises(RunwareTimeoutError) as err:
        lipsync().resume_execution("__fail__", {"error": error}, context(ti))  # type: ignore[arg-type]
    assert err.value.task_uuid == ti.xcoms["task_uuid"]
    assert f"Runware task {ti.xcoms['task_uuid']}" in str(err.value)
    assert error in str(err.value)
    assert "re-attaches" in str(err.value)


def test_a_missing_delivery_without_video_url_names_the_job_and_the_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(output_delivery, "check_url", lambda *a: "https://bucket.test/out/a.mp4?sig")
    monkeypatch.setattr(
        output_delivery,
        "wait_for_delivery",
        lambda *a, **k: {"status": "missing", "bytes": None, "waited": 0.0},
    )
    target = OutputTarget(
        path="s3://bucket/out/a.mp4",
        roots=MediaRoots(),
        from_template=False,
        overwrite=False,
        delivered_to="s3://bucket/out/a.mp4",
    )
    result: Any = {"task_uuid": "u-9", "video_url": None, "output_format": "MP4"}
    with pytest.raises(RunwareJobError, match=r"u-9.*s3://bucket/out/a\.mp4") as err:
        place_output(result, target, hook=None, logger=logging.getLogger("t"))  # type: ignore[arg-type]
    assert err.value.code == "missingVideo"
