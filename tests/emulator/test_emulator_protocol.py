"""The emulator over real HTTP: auth, tasks, errors, media, faults, admin API, processes."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_sync.testing.emulator import EmulatorProcess, EmulatorServer

from ..dag_fixtures import fresh, wait_until_idle

KEY = "emu-test-key-0d5c"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_keys=[KEY], render_seconds=0.3, output="metadata", seed=7) as s:
        yield s


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    fresh(server)  # no late answer from an earlier test may land in this one's log
    server.admin.configure(render_seconds=0.3, output="metadata", rate_limit=0, credit_usd=None)
    return server


def post(
    emu: EmulatorServer, tasks: list[dict[str, Any]], key: str | None = KEY, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(emu.base_url, json=tasks, headers=headers, timeout=kw.pop("timeout", 10), **kw)


def lipsync(task_uuid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": task_uuid or str(uuid.uuid4()),
        "model": "sync:lipsync-2@1",
        "deliveryMethod": "async",
        "includeCost": True,
        "inputs": {
            "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
            "audio": [{"id": "a", "source": "b4c57832-2075-492b-bf89-9b5e3ac02503"}],
        },
        **extra,
    }


def poll(emu: EmulatorServer, task_uuid: str) -> httpx.Response:
    return post(emu, [{"taskType": "getResponse", "taskUUID": task_uuid}])


def test_bearer_and_authentication_task_are_accepted_bad_keys_refused(emu: EmulatorServer) -> None:
    task = lipsync()
    assert post(emu, [task]).status_code == 200
    auth = {"taskType": "authentication", "apiKey": KEY}
    ok = post(emu, [auth, {"taskType": "getResponse", "taskUUID": task["taskUUID"]}], key=None)
    assert ok.status_code == 200
    missing = post(emu, [lipsync()], key=None)
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["code"] == "missingApiKey"
    wrong = post(emu, [lipsync()], key="nope")
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0] == {
        "code": "invalidApiKey",
        "message": "Invalid API key. Get one at runware.ai",
        "parameter": "apiKey",
        "taskType": "authentication",
    }
    assert len(emu.admin.submissions()) == 1


def test_a_job_is_acknowledged_then_processing_then_success_with_a_served_video(emu: EmulatorServer) -> None:
    task = lipsync()
    emu.admin.configure(render_seconds=600)  # processing until completed below, however slow the machine
    ack = post(emu, [task]).json()
    assert ack == {
        "data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "processing"}]
    }
    assert poll(emu, task["taskUUID"]).json()["data"][0]["status"] == "processing"
    emu.admin.complete(task["taskUUID"])
    [item] = poll(emu, task["taskUUID"]).json()["data"]
    assert item["status"] == "success"
    assert item["cost"] == pytest.approx(0.044 * 6.0)
    assert item["videoURL"].startswith(emu.url + "/media/")
    video = httpx.get(item["videoURL"])
    assert video.status_code == 200
    assert video.json()["taskUUID"] == task["taskUUID"]  # metadata mode describes the job


def test_a_duplicate_task_uuid_is_refused_and_creates_no_second_job(emu: EmulatorServer) -> None:
    task = lipsync()
    post(emu, [task])
    again = post(emu, [task])
    # Runware's answer to a reused taskUUID (runware-typescript tests): 400, empty data.
    assert again.status_code == 400
    assert again.json()["data"] == []
    assert again.json()["errors"][0]["code"] == "conflictTaskUUID"
    assert again.json()["errors"][0]["taskUUID"] == task["taskUUID"]
    assert emu.admin.submissions() == [task["taskUUID"]]
    assert emu.admin.stats()["duplicates"] == 1


@pytest.mark.parametrize(
    ("change", "parameter", "allowed"),
    [
        (
            {"model": "sync:lipsync-9@1"},
            "model",
            ["sync:lipsync-2@1", "sync:lipsync-2-pro@1", "sync:react-1@1", "sync:3@0", "sync:lipsync@3"],
        ),
        (
            {"providerSettings": {"sync": {"syncMode": "boing"}}},
            "providerSettings.sync.syncMode",
            ["bounce", "loop", "cut_off", "silence", "remap"],
        ),
        ({"providerSettings": {"sync": {"temperature": 2}}}, "providerSettings.sync.temperature", None),
        (
            {"providerSettings": {"sync": {"emotionPrompt": "happy"}}},
            "providerSettings.sync.emotionPrompt",
            None,
        ),
        ({"outputFormat": "AVI"}, "outputFormat", ["MP4", "WEBM", "MOV"]),
        ({"outputQuality": 10}, "outputQuality", None),
        ({"deliveryMethod": "sync"}, "deliveryMethod", ["async"]),
        ({"inputs": {"video": "v"}}, "inputs.audio", None),
        ({"inputs": {"audio": [{"id": "a", "source": "s"}]}}, "inputs.video", None),
        ({"surprise": 1}, "surprise", None),
        (
            {"providerSettings": {"sync": {"segments": [{"startTime": 2, "endTime": 1, "ref": "a"}]}}},
            "providerSettings.sync.segments[0].endTime",
            None,
        ),
        (
            {"providerSettings": {"sync": {"segments": [{"startTime": 0, "endTime": 1, "ref": "zzz"}]}}},
            "providerSettings.sync.segments[0].ref",
            ["a"],
        ),
        (
            {
                "providerSettings": {
                    "sync": {"segments": [{"startTime": 0, "endTime": 1, "ref": "a", "audioStartTime": 1}]}
                }
            },
            "providerSettings.sync.segments[0].audioStartTime",
            None,
        ),
    ],
)
def test_invalid_parameters_get_runware_shaped_errors(
    emu: EmulatorServer, change: dict[str, Any], parameter: str, allowed: list[str] | None
) -> None:
    task = lipsync()
    if "inputs" in change:
        task["inputs"] = change.pop("inputs")
    task.update(change)
    resp = post(emu, [task])
    assert resp.status_code == 400
    errors = resp.json()["errors"]
    match = [e for e in errors if e["parameter"] == parameter]
    assert match, errors
    assert match[0]["taskUUID"] == task["taskUUID"]
    assert match[0]["message"]
    if allowed is not None:
        assert match[0]["allowedValues"] == allowed
    assert emu.admin.submissions() == []


def test_react_settings_and_both_audio_spellings(emu: EmulatorServer) -> None:
    task = lipsync(
        model="sync:react-1@1", providerSettings={"sync": {"emotionPrompt": "sad", "editRegion": "head"}}
    )
    task["inputs"]["audios"] = task["inputs"].pop("audio")
    assert post(emu, [task]).status_code == 200
    segs = lipsync(
        model="sync:react-1@1",
        providerSettings={"sync": {"segments": [{"startTime": 0, "endTime": 1, "ref": "a"}]}},
    )
    err = post(emu, [segs]).json()["errors"][0]
    assert (err["code"], err["parameter"]) == ("unsupportedParameter", "providerSettings.sync.segments")


def test_unknown_task_is_not_found_and_a_batch_of_a_thousand_polls_is_one_request(
    emu: EmulatorServer,
) -> None:
    missing = poll(emu, str(uuid.uuid4()))
    assert missing.status_code == 400
    assert missing.json()["data"] == []
    assert missing.json()["errors"][0]["code"] == "taskFailedOrNotFound"
    tasks = [lipsync() for _ in range(1000)]
    assert post(emu, tasks, timeout=60).status_code == 200
    answer = post(
        emu, [{"taskType": "getResponse", "taskUUID": t["taskUUID"]} for t in tasks], timeout=60
    ).json()
    assert len(answer["data"]) == 1000
    assert {d["taskUUID"] for d in answer["data"]} == {t["taskUUID"] for t in tasks}
    # One request each way, whatever the machine's speed: counted, not timed.
    assert [len(r["tasks"]) for r in emu.admin.requests()] == [1, 1000, 1000]


def test_media_upload_as_data_uri_and_base64_then_delete(emu: EmulatorServer) -> None:
    payload = b"RIFF....WAVEfmt fake audio bytes" * 10
    up = post(
        emu,
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": "u1",
                "operation": "upload",
                "media": "data:audio/wav;base64," + base64.b64encode(payload).decode(),
            },
            {
                "taskType": "mediaStorage",
                "taskUUID": "u2",
                "operation": "upload",
                "media": base64.b64encode(payload).decode(),
            },
        ],
    ).json()["data"]
    assert {d["taskUUID"] for d in up} == {"u1", "u2"}
    for item in up:
        assert httpx.get(item["mediaURL"]).content == payload
    gone = post(
        emu,
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": "d",
                "operation": "delete",
                "media": up[0]["mediaUUID"],
            }
        ],
    )
    assert gone.status_code == 200
    assert httpx.get(up[0]["mediaURL"]).status_code == 404
    bad = post(
        emu,
        [{"taskType": "mediaStorage", "taskUUID": "b", "operation": "upload", "media": "not base64 at all!"}],
    )
    assert bad.json()["errors"][0]["code"] == "invalidMedia"


def test_credit_and_rate_limits(emu: EmulatorServer) -> None:
    emu.admin.configure(credit_usd=0.3)
    assert post(emu, [lipsync()]).status_code == 200  # 0.264
    broke = post(emu, [lipsync()])
    assert broke.status_code == 402
    assert broke.json()["errors"][0]["code"] == "insufficientCredits"
    # One request per second, in bursts of one: two requests less than a second apart are
    # enough, however slow the machine.
    emu.admin.configure(credit_usd=None, rate_limit=1)
    statuses = [poll(emu, "x").status_code for _ in range(4)]
    assert statuses[0] == 400  # an unknown task, answered
    assert 429 in statuses


def test_status_and_rate_limit_faults(emu: EmulatorServer) -> None:
    emu.admin.set_faults(
        [{"kind": "status", "status": 502, "count": 1}, {"kind": "rate_limit", "retry_after": 2, "count": 1}]
    )
    first, second, third = (poll(emu, "x") for _ in range(3))
    assert first.status_code == 502
    assert second.status_code == 429
    assert second.headers["retry-after"] == "2"
    assert third.status_code == 400  # an unknown task, answered normally
    assert emu.admin.stats()["faults"] == {"status": 1, "rate_limit": 1}


def test_reset_drops_the_connection_and_lost_response_still_creates_the_job(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "reset", "count": 1}])
    task = lipsync()
    with pytest.raises(httpx.TransportError):
        post(emu, [task])
    assert emu.admin.submissions() == []
    emu.admin.set_faults([{"kind": "lost_response", "count": 1, "task_type": "videoInference"}])
    with pytest.raises(httpx.TransportError):
        post(emu, [task])
    assert emu.admin.submissions() == [task["taskUUID"]]
    assert post(emu, [task]).json()["errors"][0]["code"] == "conflictTaskUUID"


def test_slow_and_malformed_answers(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "slow", "delay": 1.0, "count": 1}])
    with pytest.raises(httpx.ReadTimeout):
        post(emu, [lipsync()], timeout=0.3)
    wait_until_idle(emu)  # the server still answers it, late: let it land in this test's log
    [late] = emu.admin.requests()
    assert (late["fault"], late["status"]) == ("slow", 200)
    emu.admin.set_faults([{"kind": "malformed", "count": 1}])
    resp = poll(emu, "x")
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        resp.json()


def test_job_error_and_forget_faults(emu: EmulatorServer) -> None:
    emu.admin.set_faults(
        [{"kind": "job_error", "code": "timeoutProvider", "message": "too slow", "count": 1}]
    )
    failing, fine = lipsync(), lipsync()
    post(emu, [failing])
    post(emu, [fine])
    emu.admin.complete(failing["taskUUID"])
    item = poll(emu, failing["taskUUID"]).json()["data"][0]
    assert (item["status"], item["error"], item["taskUUID"]) == (
        "error",
        {"code": "timeoutProvider", "message": "too slow"},
        failing["taskUUID"],
    )
    emu.admin.set_faults([{"kind": "forget", "match": fine["taskUUID"], "polls": 2, "count": 1}])
    codes = [poll(emu, fine["taskUUID"]).status_code for _ in range(3)]
    assert codes == [400, 400, 200]


def test_admin_complete_fail_and_the_log_never_holds_the_key(emu: EmulatorServer) -> None:
    a, b = lipsync(), lipsync()
    post(emu, [a, b])
    emu.admin.complete(a["taskUUID"])
    emu.admin.fail(b["taskUUID"], "renderFailed", "admin says no")
    assert poll(emu, a["taskUUID"]).json()["data"][0]["status"] == "success"
    assert poll(emu, b["taskUUID"]).json()["data"][0]["error"]["code"] == "renderFailed"
    post(
        emu,
        [
            {"taskType": "authentication", "apiKey": KEY},
            {"taskType": "getResponse", "taskUUID": a["taskUUID"]},
        ],
        key=None,
    )
    log = emu.admin.requests()
    assert len(log) == 4
    assert KEY not in json.dumps(log)
    assert KEY not in json.dumps(emu.admin.stats())
    assert KEY not in json.dumps(emu.admin.jobs())


def test_the_emulator_runs_as_a_process_and_stops_cleanly() -> None:
    with EmulatorProcess(["--api-key", KEY, "--render-seconds", "0.1", "--output", "metadata"]) as proc:
        assert proc.base_url.startswith("http://127.0.0.1:")
        task = lipsync()
        resp = httpx.post(proc.base_url, json=[task], headers={"Authorization": f"Bearer {KEY}"})
        assert resp.status_code == 200
        assert proc.admin.submissions() == [task["taskUUID"]]
        pid = proc.proc.pid if proc.proc else -1
    assert proc.proc is not None
    assert proc.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("style", ["taskFailedOrNotFound", "taskNotFound", "taskExpired", "empty"])
def test_not_found_can_be_answered_in_each_spelling_runware_clients_accept(
    emu: EmulatorServer, style: str
) -> None:
    emu.admin.configure(not_found_style=style)
    answer = poll(emu, str(uuid.uuid4()))
    if style == "empty":
        assert (answer.status_code, answer.json()) == (200, {"data": []})
    else:
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["code"] == style


def test_job_errors_can_travel_flat_in_errors_as_older_docs_show(emu: EmulatorServer) -> None:
    emu.admin.configure(job_error_style="errors")
    task = lipsync()
    post(emu, [task])
    emu.admin.fail(task["taskUUID"], "timeoutProvider", "too slow")
    err = poll(emu, task["taskUUID"]).json()["errors"][0]
    assert (err["code"], err["taskUUID"]) == ("timeoutProvider", task["taskUUID"])


def test_lost_after_accept_queues_the_job_then_answers_504(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "lost_after_accept", "count": 1, "task_type": "videoInference"}])
    task = lipsync()
    first = post(emu, [task])
    assert first.status_code == 504
    assert emu.admin.submissions() == [task["taskUUID"]]
    again = post(emu, [task])
    assert (again.status_code, again.json()["errors"][0]["code"]) == (400, "conflictTaskUUID")


def test_an_upload_task_uuid_is_taken_once_too(emu: EmulatorServer) -> None:
    upload = {
        "taskType": "mediaStorage",
        "taskUUID": str(uuid.uuid4()),
        "operation": "upload",
        "media": "QUJD",
    }
    assert post(emu, [upload]).status_code == 200
    again = post(emu, [upload])
    assert (again.status_code, again.json()["errors"][0]["code"]) == (400, "conflictTaskUUID")


def test_the_request_log_keeps_uploaded_media_short(emu: EmulatorServer) -> None:
    media = "data:video/mp4;base64," + "A" * 100_000
    post(
        emu,
        [{"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "upload", "media": media}],
    )
    logged = emu.admin.requests()[-1]["tasks"][0]["media"]
    assert len(logged) < 300
    assert "100022 characters" in logged
