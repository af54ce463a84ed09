"""Faults that bend Runware's answers, over real HTTP: slow bodies, stray and missing items,
waiting statuses, cancelled jobs and deliveries to ``uploadEndpoint`` that fail or come late."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.emulator.__main__ import parse_args
from airflow_provider_sync.testing.emulator.faults import KINDS, STRAY_ITEMS, WAITING_STATUSES, FaultRule

from ..dag_fixtures import fresh, wait_until_idle
from .loopback_store import Store

KEY = "emu-answer-faults-key-77c1"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    media = tmp_path_factory.mktemp("answer-faults-media")
    with EmulatorServer(api_keys=[KEY], render_seconds=0.2, output="metadata", media_dir=media, seed=3) as s:
        yield s


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    fresh(server)
    server.admin.configure(render_seconds=0.2, job_error_style="nested")
    return server


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    try:
        yield s
    finally:
        s.close()


def post(emu: EmulatorServer, tasks: list[dict[str, Any]], timeout: float = 30) -> httpx.Response:
    return httpx.post(emu.base_url, json=tasks, headers={"Authorization": f"Bearer {KEY}"}, timeout=timeout)


def lipsync(**extra: Any) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "sync:lipsync-2@1",
        "includeCost": True,
        "inputs": {"video": VIDEO, "audio": [{"id": "a", "source": AUDIO}]},
        **extra,
    }


def poll(emu: EmulatorServer, *task_uuids: str) -> httpx.Response:
    return post(emu, [{"taskType": "getResponse", "taskUUID": u} for u in task_uuids])


def wait_ended(emu: EmulatorServer, task_uuid: str) -> dict[str, Any]:
    """Poll until the job is no longer processing (bounded); its first item."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = poll(emu, task_uuid).json()
        items = answer.get("data") or answer.get("errors") or []
        if items and items[0].get("status") != "processing":
            return dict(items[0])
        time.sleep(0.05)
    raise AssertionError(f"job {task_uuid} never ended")


def wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RawRequest:
    """A POST over a plain socket, so a test decides when the client gives up."""

    def __init__(self, emu: EmulatorServer, tasks: list[dict[str, Any]]) -> None:
        body = json.dumps(tasks).encode()
        self.sock = socket.create_connection(("127.0.0.1", emu.port), timeout=30)
        head = (
            f"POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + body)
        self.buffer = b""

    def headers(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "the server closed the connection before its headers"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(4096)
            assert chunk, "the server closed the connection early"
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def close(self) -> None:
        self.sock.close()


def logged(emu: EmulatorServer, fault: str) -> dict[str, Any]:
    [entry] = [r for r in emu.admin.requests() if r.get("fault") == fault]
    return entry


# ---------------------------------------------------------------- trickle and stall


def test_trickle_sends_the_real_answer_a_byte_at_a_time_to_the_end(emu: EmulatorServer) -> None:
    emu.admin.configure(render_seconds=600)  # the same answer twice, however slow the machine
    task = lipsync()
    post(emu, [task])
    normal = poll(emu, task["taskUUID"]).content
    emu.admin.set_faults([{"kind": "trickle", "delay": 0.005, "task_type": "getResponse", "count": 1}])
    slow = poll(emu, task["taskUUID"])
    assert slow.status_code == 200
    assert slow.json()["data"][0]["taskUUID"] == task["taskUUID"]
    entry = logged(emu, "trickle")
    assert entry["sent_bytes"] == len(slow.content) == len(normal)
    assert entry["client_left"] is False


def test_a_trickling_answer_holds_no_other_request_and_ends_when_the_client_leaves(
    emu: EmulatorServer,
) -> None:
    task = lipsync()
    post(emu, [task])
    emu.admin.set_faults([{"kind": "trickle", "delay": 0.2, "task_type": "getResponse", "count": 1}])
    raw = RawRequest(emu, [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
    try:
        status, headers = raw.headers()
        assert status == 200
        length = int(headers["content-length"])
        assert raw.read(3) == b'{"d'  # the start of the real answer, slowly
        # Meanwhile every other request is answered in full, the trickle still going.
        assert poll(emu, task["taskUUID"]).json()["data"][0]["taskUUID"] == task["taskUUID"]
        assert not [r for r in emu.admin.requests() if r.get("fault") == "trickle"]
    finally:
        raw.close()
    wait_until_idle(emu)
    entry = logged(emu, "trickle")
    assert entry["client_left"] is True
    assert 3 <= entry["sent_bytes"] < length


def test_stall_sends_headers_then_nothing_until_the_client_gives_up_and_the_work_is_done(
    emu: EmulatorServer,
) -> None:
    emu.admin.set_faults([{"kind": "stall", "task_type": "videoInference", "count": 1}])
    task = lipsync()
    with pytest.raises(httpx.ReadTimeout):
        post(emu, [task], timeout=0.5)
    wait_until_idle(emu)
    entry = logged(emu, "stall")
    assert (entry["status"], entry["client_left"]) == (200, True)
    assert emu.admin.submissions() == [task["taskUUID"]]  # Runware got it: the job exists


def test_a_stalled_answer_holds_no_other_request(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "stall", "task_type": "getResponse", "count": 1}])
    raw = RawRequest(emu, [{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    try:
        status, headers = raw.headers()
        assert status == 400  # the real answer's status: an unknown task
        assert int(headers["content-length"]) > 0
        task = lipsync()
        assert post(emu, [task]).status_code == 200
        assert poll(emu, task["taskUUID"]).status_code == 200
    finally:
        raw.close()
    wait_until_idle(emu)
    assert logged(emu, "stall")["client_left"] is True


def test_a_stall_outliving_its_limit_drops_the_connection(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "stall", "delay": 0.2, "count": 1}])
    with pytest.raises(httpx.TransportError):
        poll(emu, str(uuid.uuid4()))
    wait_until_idle(emu)
    assert logged(emu, "stall")["client_left"] is False


# ---------------------------------------------------------------- stray and missing items


def test_stray_items_come_beside_the_real_answer_and_name_no_real_task(emu: EmulatorServer) -> None:
    emu.admin.configure(render_seconds=600)
    task = lipsync()
    post(emu, [task])
    emu.admin.set_faults([{"kind": "stray_items", "task_type": "getResponse", "count": 1}])
    answer = poll(emu, task["taskUUID"])
    assert answer.status_code == 200
    body = answer.json()
    real = [d for d in body["data"] if d.get("taskUUID") == task["taskUUID"]]
    assert [d["status"] for d in real] == ["processing"]
    strays = [d for d in body["data"] if d.get("taskUUID") != task["taskUUID"]]
    assert len(strays) == 2
    no_uuid = [d for d in strays if "taskUUID" not in d]
    unknown = [d for d in strays if "taskUUID" in d]
    assert len(no_uuid) == len(unknown) == 1
    assert unknown[0]["taskUUID"] not in emu.admin.submissions()
    assert unknown[0]["status"] == "success"
    assert unknown[0]["videoURL"]
    codes = [e["code"] for e in body["errors"]]
    assert any(isinstance(c, list) for c in codes)
    assert any(isinstance(e["taskUUID"], dict) for e in body["errors"])
    # The next answer is clean again.
    assert "errors" not in poll(emu, task["taskUUID"]).json()


def test_stray_items_can_be_chosen_and_ride_on_a_submission_answer(emu: EmulatorServer) -> None:
    emu.admin.set_faults(
        [{"kind": "stray_items", "task_type": "videoInference", "items": ["code_list"], "count": 1}]
    )
    task = lipsync()
    answer = post(emu, [task])
    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] == [
        {"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "processing"}
    ]
    [stray] = body["errors"]
    assert isinstance(stray["code"], list)
    assert stray["taskUUID"] != task["taskUUID"]
    assert emu.admin.submissions() == [task["taskUUID"]]


def test_omit_from_batch_leaves_the_chosen_task_out_of_a_batched_answer(emu: EmulatorServer) -> None:
    tasks = [lipsync() for _ in range(3)]
    post(emu, tasks)
    uuids = [t["taskUUID"] for t in tasks]
    emu.admin.set_faults([{"kind": "omit_from_batch", "match": uuids[1], "count": 1}])
    single = poll(emu, uuids[1])  # one task alone is no batch: answered, rule kept
    assert [d["taskUUID"] for d in single.json()["data"]] == [uuids[1]]
    batch = poll(emu, *uuids)
    assert batch.status_code == 200
    assert [d["taskUUID"] for d in batch.json()["data"]] == [uuids[0], uuids[2]]
    assert "errors" not in batch.json()
    assert logged(emu, "omit_from_batch")["omitted"] == uuids[1]
    assert len(poll(emu, *uuids).json()["data"]) == 3  # the rule fired once


def test_omit_from_batch_without_a_choice_drops_exactly_one_task(emu: EmulatorServer) -> None:
    tasks = [lipsync() for _ in range(4)]
    post(emu, tasks)
    unknown = str(uuid.uuid4())
    emu.admin.set_faults([{"kind": "omit_from_batch", "count": 1}])
    answer = poll(emu, *[t["taskUUID"] for t in tasks], unknown).json()
    answered = {d["taskUUID"] for d in answer["data"]} | {e["taskUUID"] for e in answer.get("errors", [])}
    omitted = logged(emu, "omit_from_batch")["omitted"]
    assert answered == ({t["taskUUID"] for t in tasks} | {unknown}) - {omitted}
    assert len(answered) == 4


# ---------------------------------------------------------------- job statuses and endings


def test_waiting_statuses_come_before_processing_each_in_turn(emu: EmulatorServer) -> None:
    emu.admin.configure(render_seconds=600)
    emu.admin.set_faults([{"kind": "waiting_statuses", "polls": 4, "count": 1}])
    task = lipsync()
    post(emu, [task])
    seen = [poll(emu, task["taskUUID"]).json()["data"][0]["status"] for _ in range(5)]
    assert seen == [*WAITING_STATUSES, "processing"]
    emu.admin.complete(task["taskUUID"])
    assert poll(emu, task["taskUUID"]).json()["data"][0]["status"] == "success"


def test_waiting_statuses_can_report_one_chosen_status(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "waiting_statuses", "job_status": "scheduled", "polls": 2, "count": 1}])
    task = lipsync()
    post(emu, [task])
    first = [poll(emu, task["taskUUID"]).json()["data"][0] for _ in range(2)]
    assert [i["status"] for i in first] == ["scheduled", "scheduled"]
    assert first[0] == {"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "scheduled"}
    assert wait_ended(emu, task["taskUUID"])["status"] == "success"


@pytest.mark.parametrize("style", ["nested", "errors"])
def test_a_cancelled_job_ends_as_task_cancelled(emu: EmulatorServer, style: str) -> None:
    emu.admin.configure(job_error_style=style)
    emu.admin.set_faults([{"kind": "cancel", "count": 1}])
    task = lipsync()
    post(emu, [task])
    emu.admin.complete(task["taskUUID"])
    answer = poll(emu, task["taskUUID"]).json()
    if style == "nested":
        [item] = answer["data"]
        assert item["status"] == "error"
        assert item["error"] == {"code": "taskCancelled", "message": "The task was cancelled"}
    else:
        [err] = answer["errors"]
        assert (err["code"], err["taskUUID"]) == ("taskCancelled", task["taskUUID"])
    assert emu.admin.stats()["faults"] == {"cancel": 1}


# ---------------------------------------------------------------- delivery to uploadEndpoint


def delivered_job(emu: EmulatorServer, store: Store, name: str) -> dict[str, Any]:
    task = lipsync(uploadEndpoint=f"{store.url}/out/{name}.mp4?X-Amz-Signature=s")
    assert post(emu, [task]).status_code == 200
    return task


def test_deliver_late_reports_success_before_the_put_lands(emu: EmulatorServer, store: Store) -> None:
    emu.admin.set_faults([{"kind": "deliver_late", "delay": 600, "count": 1}])
    task = delivered_job(emu, store, "late")
    item = wait_ended(emu, task["taskUUID"])
    assert item["status"] == "success"
    assert item["videoURL"]
    assert store.puts == {}
    job = emu.admin.job(task["taskUUID"])
    assert job["delivery"] == "pending"
    assert job["success_reported_at"] is not None
    wait_for(lambda: emu.admin.job(task["taskUUID"])["success_seen_at"], "the delivery to see success")
    emu.admin.deliver(task["taskUUID"])  # cut the 600 s short
    wait_for(lambda: "/out/late.mp4" in store.puts, "the late PUT")
    wait_for(lambda: emu.admin.job(task["taskUUID"])["delivery"] == "delivered", "the delivery record")
    job = emu.admin.job(task["taskUUID"])
    assert job["delivered_at"] >= job["success_reported_at"]
    assert emu.admin.stats()["late_deliveries"] == 1


def test_deliver_late_puts_delay_seconds_after_success_by_itself(emu: EmulatorServer, store: Store) -> None:
    emu.admin.set_faults([{"kind": "deliver_late", "delay": 0.3, "count": 1}])
    task = delivered_job(emu, store, "soon")
    wait_for(lambda: "/out/soon.mp4" in store.puts, "the late PUT")
    wait_for(lambda: emu.admin.job(task["taskUUID"])["delivery"] == "delivered", "the delivery record")
    job = emu.admin.job(task["taskUUID"])
    assert job["delivered_at"] - job["success_seen_at"] >= 0.3  # waited after success, by design
    assert json.loads(store.puts["/out/soon.mp4"])["taskUUID"] == task["taskUUID"]


def test_deliver_late_without_an_upload_endpoint_does_not_fire(emu: EmulatorServer) -> None:
    emu.admin.set_faults([{"kind": "deliver_late", "count": 1}])
    task = lipsync()
    post(emu, [task])
    assert "delivery" not in emu.admin.job(task["taskUUID"])
    assert emu.admin.stats()["faults"] == {}


@pytest.mark.parametrize("style", ["nested", "errors"])
def test_upload_failed_keeps_the_video_url_in_the_error_answer(
    emu: EmulatorServer, store: Store, style: str
) -> None:
    emu.admin.configure(job_error_style=style)
    emu.admin.set_faults([{"kind": "upload_failed", "count": 1}])
    task = delivered_job(emu, store, "refused")
    item = wait_ended(emu, task["taskUUID"])
    error = item["error"] if style == "nested" else item
    assert (error["code"], error["message"]) == (
        "uploadFailed",
        "Uploading the result to uploadEndpoint failed",
    )
    if style == "nested":
        assert item["status"] == "error"
    assert item["taskUUID"] == task["taskUUID"]
    assert store.puts == {}
    video = httpx.get(item["videoURL"])
    assert video.status_code == 200
    assert video.json()["taskUUID"] == task["taskUUID"]
    assert emu.admin.job(task["taskUUID"])["delivery"] == "failed"


def test_upload_failed_can_leave_no_video_url(emu: EmulatorServer, store: Store) -> None:
    emu.admin.set_faults([{"kind": "upload_failed", "video_url": False, "code": "uploadFailed", "count": 1}])
    task = delivered_job(emu, store, "lost")
    item = wait_ended(emu, task["taskUUID"])
    assert item == {
        "taskType": "videoInference",
        "taskUUID": task["taskUUID"],
        "status": "error",
        "error": {"code": "uploadFailed", "message": "Uploading the result to uploadEndpoint failed"},
    }
    assert store.puts == {}
    assert httpx.get(emu.admin.job(task["taskUUID"])["videoURL"]).status_code == 404


# ---------------------------------------------------------------- what Runware's own client sends


def test_number_results_makes_that_many_videos_each_billed(emu: EmulatorServer) -> None:
    task = lipsync(numberResults=2)
    post(emu, [task])
    emu.admin.complete(task["taskUUID"])
    items = poll(emu, task["taskUUID"]).json()["data"]
    assert [i["taskUUID"] for i in items] == [task["taskUUID"]] * 2
    assert len({i["videoUUID"] for i in items}) == 2
    for item in items:
        assert item["cost"] == pytest.approx(0.044 * 6.0)
        assert httpx.get(item["videoURL"]).status_code == 200
    assert emu.admin.stats()["spent_usd"] == pytest.approx(2 * 0.044 * 6.0)


@pytest.mark.parametrize("value", [0, 21, 1.5, True, "2"])
def test_number_results_out_of_range_is_refused_in_runware_shape(emu: EmulatorServer, value: Any) -> None:
    task = lipsync(numberResults=value)
    answer = post(emu, [task])
    assert answer.status_code == 400
    [err] = answer.json()["errors"]
    assert (err["code"], err["parameter"], err["taskUUID"]) == (
        "invalidParameter",
        "numberResults",
        task["taskUUID"],
    )
    assert emu.admin.submissions() == []


def test_ttl_is_accepted_and_checked(emu: EmulatorServer) -> None:
    assert post(emu, [lipsync(ttl=3600)]).status_code == 200
    for bad in (0, -5, 1.5, "3600"):
        err = post(emu, [lipsync(ttl=bad)]).json()["errors"][0]
        assert (err["code"], err["parameter"]) == ("invalidParameter", "ttl")
    assert len(emu.admin.submissions()) == 1


def test_a_media_upload_answer_names_its_operation(emu: EmulatorServer) -> None:
    upload = {
        "taskType": "mediaStorage",
        "taskUUID": str(uuid.uuid4()),
        "operation": "upload",
        "media": "QUJD",
    }
    [item] = post(emu, [upload]).json()["data"]
    assert set(item) == {"taskType", "taskUUID", "operation", "mediaUUID", "mediaURL"}
    assert item["operation"] == "upload"
    delete = {
        "taskType": "mediaStorage",
        "taskUUID": str(uuid.uuid4()),
        "operation": "delete",
        "media": item["mediaUUID"],
    }
    [gone] = post(emu, [delete]).json()["data"]
    assert (gone["operation"], gone["mediaUUID"]) == ("delete", item["mediaUUID"])


# ---------------------------------------------------------------- configuration


def test_each_new_kind_has_its_defaults_and_bad_details_are_refused(emu: EmulatorServer) -> None:
    assert FaultRule(kind="trickle").delay == 0.5
    assert FaultRule(kind="deliver_late").delay == 1.5
    assert FaultRule(kind="stall").delay == 600
    assert (FaultRule(kind="cancel").code, FaultRule(kind="upload_failed").code) == (
        "taskCancelled",
        "uploadFailed",
    )
    assert FaultRule(kind="stray_items").items is None  # all of STRAY_ITEMS
    assert len(STRAY_ITEMS) == 4
    for bad in (
        {"kind": "stray_items", "items": ["nonsense"]},
        {"kind": "waiting_statuses", "job_status": "running"},
        {"kind": "trickle", "delay": -1},
    ):
        assert httpx.post(f"{emu.url}/_emulator/faults", json=[bad]).status_code == 400
    rules = emu.admin.set_faults([{"kind": "omit_from_batch", "rate": 0.5}])["rules"]
    assert rules[0]["kind"] == "omit_from_batch"


def test_the_command_line_takes_the_new_kinds() -> None:
    args = parse_args(["--fault", "trickle:0.1", "--fault", "upload_failed", "--fault", "waiting_statuses"])
    rules = [FaultRule.parse(text) for text in args.fault]
    assert [(r.kind, r.rate) for r in rules] == [
        ("trickle", 0.1),
        ("upload_failed", None),
        ("waiting_statuses", None),
    ]


def test_every_fault_kind_is_documented_in_the_faults_table() -> None:
    page = (Path(__file__).parents[2] / "docs" / "emulator.md").read_text()
    table = page[page.index("| Kind | What happens |") :]
    table = table[: table.index("\n\n")]
    documented = {line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]}
    assert documented == set(KINDS)
