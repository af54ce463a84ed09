"""Operator behaviour: parse-time checks, templating, submit/defer/poll, results and errors."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_sync._compat import AirflowException, TaskDeferred
from airflow_provider_sync.exceptions import (
    RunwareAuthError,
    RunwareJobError,
    RunwareTimeoutError,
    SyncValidationError,
)
from airflow_provider_sync.links import VIDEO_URL_XCOM_KEY
from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator
from airflow_provider_sync.triggers.runware import RunwareTaskTrigger

from .conftest import API_KEY, SUCCESS, FakeRunware, FakeTI, outlet_events

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def lipsync(**kwargs: Any) -> SyncLipsyncOperator:
    params: dict[str, Any] = {"task_id": "lipsync", "video": VIDEO, "audio": AUDIO, "poll_interval": 0.01}
    return SyncLipsyncOperator(**{**params, **kwargs})


def context(ti: FakeTI | None = None, **extra: Any) -> dict[str, Any]:
    return {"ti": ti or FakeTI(), **extra}


# ---------------------------------------------------------------- parse time


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"sync_mode": "bounc"}, ["sync_mode", "'bounce'", "'remap'"]),
        ({"temperature": 1.5}, ["temperature", "1"]),
        ({"model": "react-1"}, ["model", "lipsync-2", "lipsync-2-pro"]),
        ({"output_format": "AVI"}, ["output_format", "'MP4'", "'WEBM'", "'MOV'"]),
        ({"output_quality": 5}, ["output_quality", "20"]),
        ({"audio": None}, ["audio", "speech"]),
        ({"segments": [{"startTime": 0, "endTime": 2, "ref": "nope"}]}, ["segments", "nope", "audio-1"]),
        ({"poll_interval": 0}, ["poll_interval"]),
    ],
)
def test_literal_bad_values_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(SyncValidationError) as err:
        lipsync(**kwargs)
    for fragment in expected:
        assert fragment in str(err.value)


def test_react_refuses_segments_and_lipsync_has_no_react_settings() -> None:
    with pytest.raises(SyncValidationError, match="segments"):
        SyncReactOperator(
            task_id="r", video=VIDEO, audio=AUDIO, segments=[{"startTime": 0, "endTime": 1, "ref": "audio-1"}]
        )
    with pytest.raises(SyncValidationError, match=r"emotion_prompt.*'happy'"):
        SyncReactOperator(task_id="r", video=VIDEO, audio=AUDIO, emotion_prompt="joyful")
    # An unknown argument: Airflow 3 raises TypeError, Airflow 2.11 its AirflowException.
    with pytest.raises((TypeError, AirflowException), match="emotion_prompt"):
        SyncLipsyncOperator(task_id="l", video=VIDEO, audio=AUDIO, emotion_prompt="happy")  # type: ignore[call-arg]


def test_templated_values_wait_for_execute_but_literal_ones_next_to_them_are_checked() -> None:
    lipsync(sync_mode="{{ params.mode }}", audio="{{ params.audio }}")  # no error at parse time
    with pytest.raises(SyncValidationError, match="temperature"):
        lipsync(sync_mode="{{ params.mode }}", temperature=3)
    # A segment may reference an id whose audio list is only known at run time.
    lipsync(audio="{{ params.audio_list }}", segments=[{"startTime": 0, "endTime": 1, "ref": "later"}])


# ---------------------------------------------------------------- templating


def test_every_parameter_is_templated_including_nested_structures() -> None:
    op = SyncReactOperator(
        task_id="react",
        video="{{ params.video }}",
        audio=[{"id": "{{ params.audio_id }}", "source": "{{ dag_run.conf['audio'] }}"}],
        sync_mode="{{ dag_run.conf.get('mode', 'bounce') }}",
        temperature="{{ params.temperature }}",
        edit_region="{{ params.region }}",
        emotion_prompt="{{ dag_run.conf['emotion'] }}",
        output_format="{{ params.fmt }}",
        output_quality="{{ params.quality }}",
    )
    assert {"video", "audio", "speech", "segments", "edit_region", "emotion_prompt"} <= set(
        op.template_fields
    )
    ctx = context(
        params={
            "video": "https://cdn.test/take.mp4",
            "audio_id": "fr",
            "temperature": 0.2,
            "region": "head",
            "fmt": "webm",
            "quality": 80,
        },
        dag_run=SimpleNamespace(conf={"audio": "https://cdn.test/fr.wav", "mode": "loop", "emotion": "sad"}),
    )
    op.render_template_fields(ctx)
    assert op.build_request(task_uuid="6ba7b829-9dad-11d1-80b4-00c04fd430c9") == {
        "taskType": "videoInference",
        "taskUUID": "6ba7b829-9dad-11d1-80b4-00c04fd430c9",
        "model": "sync:react-1@1",
        "deliveryMethod": "async",
        "includeCost": True,
        "outputFormat": "WEBM",
        "outputQuality": 80,
        "inputs": {
            "video": "https://cdn.test/take.mp4",
            "audio": [{"id": "fr", "source": "https://cdn.test/fr.wav"}],
        },
        "providerSettings": {
            "sync": {"syncMode": "loop", "temperature": 0.2, "editRegion": "head", "emotionPrompt": "sad"}
        },
    }


def test_bad_templated_value_fails_at_execute_before_any_http_request(fake_runware: FakeRunware) -> None:
    op = lipsync(sync_mode="{{ params.mode }}")
    op.render_template_fields(context(params={"mode": "boomerang"}))
    with pytest.raises(SyncValidationError, match=r"sync_mode.*'boomerang'.*'bounce'"):
        op.execute(context())
    assert fake_runware.tasks == []


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        (name, rendered)
        for name in ("poll_interval", "timeout", "expected_render_time")
        for rendered in ("nan", "-1", "0", "inf", "soon", "True", "")
        # An empty expected_render_time means "estimate it", not a mistake.
        if (name, rendered) != ("expected_render_time", "")
    ],
)
def test_a_bad_templated_duration_fails_before_any_request(
    runware_conn: str, name: str, rendered: str
) -> None:
    import respx

    op = lipsync(**{name: "{{ params.value }}"})
    op.render_template_fields(context(params={"value": rendered}))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("http://runware.test/v1")
        with pytest.raises(SyncValidationError, match=name):
            op.execute(context())
    assert route.call_count == 0
    assert len(mock.calls) == 0


# ---------------------------------------------------------------- execution


def test_deferrable_execute_submits_once_then_defers_to_the_trigger(fake_runware: FakeRunware) -> None:
    op = lipsync(deferrable=True, sync_mode="loop")
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(ti))
    trigger = deferred.value.trigger
    assert isinstance(trigger, RunwareTaskTrigger)
    assert deferred.value.method_name == "execute_complete"
    [submitted] = fake_runware.submissions
    assert trigger.task_uuid == submitted["taskUUID"] == ti.xcoms["task_uuid"]
    assert submitted == op.build_request(task_uuid=submitted["taskUUID"])
    assert trigger.poll_interval == pytest.approx(0.01)


def test_worker_polling_returns_the_result(fake_runware: FakeRunware) -> None:
    op = lipsync(deferrable=False, output_format="mov")
    result = op.execute(context())
    [submitted] = fake_runware.submissions
    polls = [t for t in fake_runware.tasks if t["taskType"] == "getResponse"]
    assert len(polls) >= 2  # the idempotency probe, then polls until success
    assert result["task_uuid"] == submitted["taskUUID"]
    assert result["model"] == "sync:lipsync-2@1"
    assert result["status"] == "success"
    assert result["video_url"] == SUCCESS["videoURL"]
    assert result["video_uuid"] == SUCCESS["videoUUID"]
    assert result["cost"] == SUCCESS["cost"]
    assert result["seed"] == SUCCESS["seed"] == 42
    assert result["output_format"] == "MOV"
    assert result["raw"] == {"taskType": "videoInference", "taskUUID": submitted["taskUUID"], **SUCCESS}


def test_a_rerun_of_the_same_task_instance_reattaches_instead_of_paying_twice(
    fake_runware: FakeRunware,
) -> None:
    fake_runware.script = [{"status": "processing"}]
    for _ in range(3):
        with pytest.raises(TaskDeferred):
            lipsync(deferrable=True).execute(context(FakeTI()))
    assert len(fake_runware.submissions) == 1


def test_a_failed_job_is_retried_under_a_new_uuid(fake_runware: FakeRunware) -> None:
    fake_runware.script = [
        {"status": "error", "error": {"code": "timeoutProvider", "message": "took too long"}}
    ]
    with pytest.raises(RunwareJobError) as err:
        lipsync(deferrable=False).execute(context())
    assert err.value.code == "timeoutProvider"
    assert "took too long" in str(err.value)
    # The error keeps what Runware said: its HTTP status and the job it is about.
    assert (err.value.status_code, err.value.task_uuid) == (400, fake_runware.submissions[0]["taskUUID"])
    fake_runware.script = [SUCCESS]
    result = lipsync(deferrable=False).execute(context())
    first, second = fake_runware.submissions
    assert first["taskUUID"] != second["taskUUID"] == result["task_uuid"]


def test_execute_complete_turns_events_into_results_and_errors() -> None:
    op = lipsync()
    ok = op.execute_complete(
        context(),
        {"status": "success", "task_uuid": "u-1", "result": SUCCESS, "elapsed": 3.5},
        "sync:lipsync-2@1",
    )
    assert ok["video_url"] == SUCCESS["videoURL"]
    assert (ok["video_uuid"], ok["cost"], ok["seed"]) == (SUCCESS["videoUUID"], SUCCESS["cost"], 42)
    assert (ok["task_uuid"], ok["model"], ok["status"]) == ("u-1", "sync:lipsync-2@1", "success")
    assert ok["output_format"] == "MP4"  # Runware's default when none was asked for
    assert ok["elapsed"] == 3.5
    assert ok["raw"] == SUCCESS
    tolerant = op.execute_complete(
        context(), {"status": "success", "task_uuid": "u-1", "result": {**SUCCESS, "fancyNewField": [1, 2]}}
    )
    assert tolerant["raw"]["fancyNewField"] == [1, 2]
    with pytest.raises(RunwareJobError) as err:
        op.execute_complete(
            context(),
            {"status": "error", "task_uuid": "u-2", "error": {"code": "invalidAudio", "message": "no voice"}},
        )
    assert (err.value.code, err.value.task_uuid) == ("invalidAudio", "u-2")
    assert "no voice" in str(err.value)
    with pytest.raises(RunwareTimeoutError, match="u-3"):
        op.execute_complete(context(), {"status": "timeout", "task_uuid": "u-3", "message": "gave up on u-3"})


def test_worker_polling_times_out_naming_the_task_uuid(fake_runware: FakeRunware) -> None:
    fake_runware.script = [{"status": "processing"}]
    with pytest.raises(RunwareTimeoutError) as err:
        lipsync(deferrable=False, timeout=0.2).execute(context())
    assert fake_runware.submissions[0]["taskUUID"] in str(err.value)


def test_a_refused_key_fails_without_leaking_it(runware_conn: str) -> None:
    import httpx
    import respx

    body = {"errors": [{"code": "invalidApiKey", "message": "Invalid API key", "parameter": "apiKey"}]}
    with respx.mock:
        route = respx.post("http://runware.test/v1").mock(return_value=httpx.Response(401, json=body))
        with pytest.raises(RunwareAuthError) as err:
            lipsync(deferrable=True).execute(context())
    assert route.call_count == 1  # permanent: not retried
    assert err.value.code == "invalidApiKey"
    assert API_KEY not in str(err.value)
    assert API_KEY not in repr(err.value.to_dict())


def logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """Everything logged so far: Airflow's structlog may write to stdout instead of logging."""
    out = capsys.readouterr()
    return caplog.text + out.out + out.err


def test_on_kill_names_the_job_that_keeps_running(
    fake_runware: FakeRunware, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    op = lipsync(deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(context())
    [submitted] = fake_runware.submissions
    capsys.readouterr()
    with caplog.at_level("WARNING"):
        op.on_kill()
    text = logged(caplog, capsys)
    assert submitted["taskUUID"] in text
    assert "no cancellation" in text
    # No cancel request exists in Runware's API, so nothing is sent.
    assert len(fake_runware.tasks) == 2  # the idempotency probe and the submission


async def test_a_cancelled_trigger_says_the_job_goes_on(
    fake_runware: FakeRunware, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    fake_runware.script = [{"status": "processing"}]
    trigger = RunwareTaskTrigger(task_uuid="11111111-2222-4333-8444-555555555555", poll_interval=0.01)
    fake_runware.jobs[trigger.task_uuid] = [{"status": "processing"}]

    async def consume() -> None:
        async for _ in trigger.run():
            pass

    task = asyncio.ensure_future(consume())
    for _ in range(500):  # until it has polled twice, however busy the machine is
        if len(fake_runware.tasks) >= 2:
            break
        await asyncio.sleep(0.01)
    with caplog.at_level("WARNING"):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    text = logged(caplog, capsys)
    assert f"Stopped waiting for Runware task {trigger.task_uuid}" in text
    assert "no cancellation" in text
    assert len(fake_runware.tasks) >= 2  # it was polling


async def test_a_trigger_closed_after_its_job_ended_does_not_say_the_job_goes_on(
    fake_runware: FakeRunware, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    trigger = RunwareTaskTrigger(task_uuid="11111111-2222-4333-8444-666666666666", poll_interval=0.01)
    fake_runware.jobs[trigger.task_uuid] = [{"status": "processing"}, SUCCESS]
    with caplog.at_level("INFO"):
        gen = trigger.run()
        event = await gen.__anext__()
        # The triggerer cancels a trigger once its event is stored: the job is over by then.
        task = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises((asyncio.CancelledError, StopAsyncIteration)):
            await task
        await gen.aclose()
    text = logged(caplog, capsys)
    assert event.payload["status"] == "success"
    assert "Stopped waiting" not in text
    assert "continues and is billed" not in text
    assert f"Runware task {trigger.task_uuid} ended: success" in text


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/v.mp4",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://cdn.example.com/v.mp4",
        "https:///no-host.mp4",
    ],
)
def test_a_result_url_that_is_not_https_fails_the_job_and_never_becomes_a_link(
    runware_conn: str, url: str
) -> None:
    ti = FakeTI()
    event = {"status": "success", "task_uuid": "u-1", "result": {**SUCCESS, "videoURL": url}, "elapsed": 1.0}
    with pytest.raises(RunwareJobError) as raised:
        lipsync().execute_complete(context(ti), event)
    assert raised.value.code == "invalidVideoURL"
    assert ti.xcoms.get(VIDEO_URL_XCOM_KEY) is None


def test_plain_http_results_are_accepted_only_from_an_emulator_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = {"conn_type": "runware", "host": "http://127.0.0.1:8765/v1", "password": "k"}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(emulator))
    ti = FakeTI()
    local = {**SUCCESS, "videoURL": "http://127.0.0.1:8765/media/v.mp4"}
    ok = lipsync().execute_complete(context(ti), {"status": "success", "task_uuid": "u", "result": local})
    assert ti.xcoms[VIDEO_URL_XCOM_KEY] == ok["video_url"] == local["videoURL"]
    elsewhere = {**SUCCESS, "videoURL": "http://cdn.example.com/v.mp4"}
    with pytest.raises(RunwareJobError):
        lipsync().execute_complete(
            context(FakeTI()), {"status": "success", "task_uuid": "u", "result": elsewhere}
        )


def test_a_rerun_after_the_job_succeeded_returns_its_result_at_once(fake_runware: FakeRunware) -> None:
    fake_runware.script = [SUCCESS]
    first = lipsync(deferrable=False).execute(context())
    calls = len(fake_runware.tasks)
    again = lipsync(deferrable=True).execute(context())  # no deferral: the job is already over
    assert again["task_uuid"] == first["task_uuid"]
    assert again["video_url"] == SUCCESS["videoURL"]
    assert [t["taskType"] for t in fake_runware.tasks[calls:]] == ["getResponse"]  # the probe alone
    assert len(fake_runware.submissions) == 1


@pytest.mark.parametrize("rendered", ["None", "", "  "])
def test_an_output_path_rendered_empty_or_none_saves_nothing(
    fake_runware: FakeRunware, rendered: str
) -> None:
    op = lipsync(deferrable=False, output_path="{{ params.out }}")
    op.render_template_fields(context(params={"out": rendered}))
    result = op.execute(context())  # a download would reach respx unmocked and fail
    assert result["status"] == "success"
    assert "output_path" not in result


def test_jinja_statements_count_as_templates_and_wait_for_execute() -> None:
    op = lipsync(sync_mode="{% if params.fast %}cut_off{% else %}remap{% endif %}")
    op.render_template_fields(context(params={"fast": True}))
    assert op.build_request()["providerSettings"]["sync"]["syncMode"] == "cut_off"


def test_each_saved_render_is_an_asset_event_naming_the_file(runware_conn: str, tmp_path: Any) -> None:
    import httpx
    import respx

    fake = FakeRunware()
    fake.script = [SUCCESS]
    target = tmp_path / "renders" / "take.mp4"
    op = lipsync(deferrable=False, output_path=str(target), output_asset="sync_renders")
    events = outlet_events()
    with respx.mock:
        respx.post("http://runware.test/v1").mock(side_effect=fake.handler)
        respx.get(SUCCESS["videoURL"]).mock(return_value=httpx.Response(200, content=b"\x00video" * 100))
        result = op.execute(context(outlet_events=events))
    assert target.read_bytes() == b"\x00video" * 100
    assert (result["output_path"], result["output_bytes"]) == (str(target), 600)
    assert events[op.output_asset].extra == {
        "task_uuid": result["task_uuid"],
        "model": "sync:lipsync-2@1",
        "video_url": SUCCESS["videoURL"],
        "output_path": str(target),
        "cost": SUCCESS["cost"],
    }


def test_the_request_summary_names_what_is_set_and_nothing_empty() -> None:
    from airflow_provider_sync.describe import describe_request

    segments_only = lipsync(
        audio=[{"id": "a", "source": AUDIO}],
        segments=[{"startTime": 0, "endTime": 2, "ref": "a"}],
    ).build_request()
    summary = describe_request(segments_only)
    assert "settings" not in summary
    assert summary.endswith("1 segments")
    with_mode = describe_request(lipsync(sync_mode="loop").build_request())
    assert "settings syncMode=loop" in with_mode
    assert "; ;" not in with_mode
    assert not with_mode.endswith("; ")
