"""Submit now, wait later, against the emulator with dag.test(): the fan-out example in both
modes, a sensor given a bare UUID, a failed job, an unknown UUID, a timeout and a re-run
(issue 19, point 1)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.exceptions import RunwareSensorTimeoutError, RunwareWaitedJobError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator
from airflow_provider_sync.sensors import sync as sensor_module
from airflow_provider_sync.sensors.sync import SyncRenderSensor
from airflow_provider_sync.testing.dags import DagResult
from airflow_provider_sync.testing.dags import run_dag as run_dag_once
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS
from ..dag_fixtures import write_dag
from ..operators.conftest import FakeTI
from ..reliability.conftest import run_to_end
from .test_run_dag_overrides import trigger_intervals  # noqa: F401

pytestmark = pytest.mark.integration

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def run_example(conf: dict[str, Any], deferrable: bool) -> DagResult:
    # The sensors' poke_interval (10 s in the DAG) follows run_dag's poll_interval.
    dag = load_dag(EXAMPLE_DAGS / "example_sync_submit_then_wait.py")
    return run_dag_once(dag, conf, deferrable=deferrable, poll_interval=0.2)


@pytest.fixture
def ends_once_waited_for(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Jobs render "forever" and end only once their sensor has looked and found them running,
    so every sensor really waits (defers, or polls again), however fast or slow the machine.
    Returns the UUIDs of the jobs ended so."""
    emulator.admin.configure(render_seconds=600)
    ended: list[str] = []
    original = SyncRenderSensor.poke

    def poke(self: SyncRenderSensor, context: Any) -> Any:
        done = original(self, context)
        job = self._prepared(context)
        if not done and job.task_uuid not in ended:
            ended.append(job.task_uuid)
            emulator.admin.complete(job.task_uuid)
        return done

    monkeypatch.setattr(SyncRenderSensor, "poke", poke)
    return ended


def submissions(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_the_example_submits_every_clip_then_waits_for_each(
    emulator: EmulatorServer,
    airflow_home: Path,
    tmp_path: Path,
    trigger_runs: list[str],
    trigger_intervals: list[float],  # noqa: F811
    ends_once_waited_for: list[str],
    deferrable: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path))
    clips = [{"name": f"ep{n}", "video": VIDEO, "audio": f"https://cdn.test/ep{n}.wav"} for n in range(3)]
    clips[1]["sync_mode"] = "remap"
    out_dir = tmp_path / "batch"
    result = run_example({"clips": clips, "output_dir": f"{out_dir}/"}, deferrable)

    assert result.state == "success", result.tasks
    sent = submissions(emulator)
    assert len({t["taskUUID"] for t in sent}) == len(sent) == 3  # one job per clip, no more
    jobs = result.xcom["submit.lipsync"]
    renders = result.xcom["wait.render"]
    assert [j["status"] for j in jobs] == ["submitted"] * 3
    assert [r["task_uuid"] for r in renders] == [j["task_uuid"] for j in jobs]  # index i waits for job i
    assert {j["task_uuid"] for j in jobs} == {t["taskUUID"] for t in sent}
    for render in renders:
        job = emulator.admin.job(render["task_uuid"])
        assert render["status"] == "success"
        assert (render["video_url"], render["video_uuid"]) == (job["videoURL"], job["videoUUID"])
        assert render["cost"] == pytest.approx(job["cost"])
        assert render["model"] == "sync:lipsync-2@1"
        assert render["output_path"] == str(out_dir / f"{render['task_uuid']}.mp4")
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{r['task_uuid']}.mp4" for r in renders)
    modes = {t["inputs"]["audio"][0]["id"]: t["providerSettings"]["sync"].get("syncMode") for t in sent}
    assert (modes["ep1"], modes["ep0"]) == ("remap", "bounce")
    # Every job was still rendering when its sensor first looked: deferred sensors waited in
    # triggers (the submitting tasks never do), worker ones polled again.
    assert sorted(ends_once_waited_for) == sorted(j["task_uuid"] for j in jobs)
    assert sorted(trigger_runs) == (sorted(ends_once_waited_for) if deferrable else [])
    # The sensors' triggers polled every 0.2 s, as run_dag said (the DAG says 10 s).
    assert set(trigger_intervals) == ({0.2} if deferrable else set())
    report = result.xcom["collect"]
    assert report["videos"] == 3
    assert report["total_cost"] == pytest.approx(sum(r["cost"] for r in renders))


def own_dag(folder: Path, dag_id: str, body: str) -> Any:
    """A DAG of the test's own (see ``write_dag``), the sensor imported, polling fast."""
    imports = "from airflow_provider_sync.sensors.sync import SyncRenderSensor\n"
    return write_dag(folder, dag_id, imports + textwrap.dedent(body))


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_a_sensor_on_the_operators_job_returns_the_operators_result(
    emulator: EmulatorServer, own_dags: Path, deferrable: bool
) -> None:
    dag = own_dag(
        own_dags,
        "sensor_same_result",
        f"""
        render = SyncLipsyncOperator(task_id="render", video="{VIDEO}", audio="https://cdn.test/a.wav",
                                     poll_interval=0.2)
        again = SyncRenderSensor(task_id="again", task_uuid=render.output)
        bare = SyncRenderSensor(task_id="bare",
                                task_uuid="{{{{ ti.xcom_pull('render', key='task_uuid') }}}}")
        render >> bare
        """,
    )
    result = run_dag_once(dag, deferrable=deferrable, poll_interval=0.2)
    assert result.state == "success", result.tasks
    assert len(submissions(emulator)) == 1  # the sensors never submitted
    waited = result.xcom["render"]
    same = {k: v for k, v in waited.items() if k != "elapsed"}
    assert {k: v for k, v in result.xcom["again"].items() if k != "elapsed"} == same
    # Given the UUID alone, a sensor does not know the model; the rest is the same.
    assert {k: v for k, v in result.xcom["bare"].items() if k != "elapsed"} == {**same, "model": None}
    assert result.xcom_key("task_uuid") == {t: waited["task_uuid"] for t in ("render", "again", "bare")}


def submitting(**kwargs: Any) -> SyncLipsyncOperator:
    return SyncLipsyncOperator(
        task_id="submit", video=VIDEO, audio="https://cdn.test/a.wav", wait_for_completion=False, **kwargs
    )


def waiting(task_uuid: Any, **kwargs: Any) -> SyncRenderSensor:
    return SyncRenderSensor(task_id="wait", task_uuid=task_uuid, poke_interval=0.1, **kwargs)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_re_runs_of_both_tasks_find_the_one_job(emulator: EmulatorServer, deferrable: bool) -> None:
    submit_ti = FakeTI(task_id="submit")
    first = submitting().execute({"ti": submit_ti})
    # A cleared (or retried) submitting task: the same task instance probes and re-attaches.
    again = submitting().execute({"ti": FakeTI(task_id="submit")})
    assert again["task_uuid"] == first["task_uuid"] == submit_ti.xcoms["task_uuid"]
    assert (first["submitted"], again["submitted"]) == (True, False)
    result = run_to_end(waiting(again, deferrable=deferrable), FakeTI(task_id="wait"))
    rerun = run_to_end(waiting(first, deferrable=deferrable), FakeTI(task_id="wait"))  # a cleared sensor
    assert result["task_uuid"] == rerun["task_uuid"] == first["task_uuid"]
    assert result["video_url"] == rerun["video_url"] == emulator.admin.job(first["task_uuid"])["videoURL"]
    assert emulator.admin.submissions() == [first["task_uuid"]]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_the_sensors_timeout_names_the_job_that_goes_on(emulator: EmulatorServer, deferrable: bool) -> None:
    emulator.admin.configure(render_seconds=600)
    job = submitting().execute({"ti": FakeTI(task_id="submit")})
    with pytest.raises(RunwareSensorTimeoutError) as err:
        run_to_end(waiting(job, deferrable=deferrable, timeout=0.5), FakeTI(task_id="wait"))
    assert err.value.task_uuid == job["task_uuid"]
    assert f"Runware task {job['task_uuid']} did not end within the sensor's timeout" in str(err.value)
    assert emulator.admin.job(job["task_uuid"])["status"] == "processing"  # nothing stopped it
    assert emulator.admin.submissions() == [job["task_uuid"]]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_a_task_uuid_the_emulator_does_not_know_fails_after_the_grace(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, deferrable: bool
) -> None:
    monkeypatch.setattr(sensor_module, "NOT_FOUND_GRACE", 0.3)
    unknown = str(uuid.uuid4())
    with pytest.raises(RunwareWaitedJobError) as err:
        run_to_end(waiting(unknown, deferrable=deferrable), FakeTI(task_id="wait"))
    assert (err.value.code, err.value.task_uuid) == ("taskNotFound", unknown)
    assert f"Runware has not known task {unknown}" in str(err.value)
    polls = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "getResponse"]
    assert len(polls) >= 2  # one "not found" is not believed
    assert emulator.admin.submissions() == []


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_a_failed_job_fails_the_sensor_typed_and_nothing_is_submitted_again(
    emulator: EmulatorServer, own_dags: Path, capfd: pytest.CaptureFixture[str], deferrable: bool
) -> None:
    emulator.admin.set_faults([{"kind": "job_error"}])
    dag = own_dag(
        own_dags,
        f"sensor_failed_job_{deferrable}",
        f"""
        submit = SyncLipsyncOperator(task_id="submit", video="{VIDEO}", audio="https://cdn.test/a.wav",
                                     wait_for_completion=False)
        SyncRenderSensor(task_id="wait", task_uuid=submit.output, retries=2)
        """,
    )
    result = run_dag_once(dag, deferrable=deferrable, poll_interval=0.2)
    # Failed, not up for retry despite retries=2: a retry would find the same failed job.
    assert result.tasks == {"submit": "success", "wait": "failed"}
    [job] = submissions(emulator)
    log = "".join(capfd.readouterr())
    assert "RunwareWaitedJobError" in log
    assert f"Runware job {job['taskUUID']} ended in error (timeoutProvider" in log
    assert len(submissions(emulator)) == 1
