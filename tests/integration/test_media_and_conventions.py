"""Media in and out, extra link, assets, mapping, chained TTS: DAGs run with dag.test()."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from airflow_provider_sync.testing.dags import DagResult
from airflow_provider_sync.testing.emulator import EmulatorServer
from airflow_provider_sync.testing.emulator.render import probe_media
from airflow_provider_sync.testing.emulator.samples import ensure_samples
from airflow_provider_sync.testing.sandbox import load_dag

from ..conftest import EXAMPLE_DAGS
from ..dag_fixtures import RunDag, asset_event_extras

pytestmark = pytest.mark.integration


def test_local_files_are_uploaded_and_the_rendered_video_is_saved(
    emulator: EmulatorServer, run_dag: RunDag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paths from the run's conf are read and written only under roots the deployment allows.
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path))
    emulator.admin.configure(output="render")
    samples = ensure_samples(tmp_path / "samples")
    out = tmp_path / "renders" / "take-1.mp4"
    conf = {
        "video": str(samples.video),
        "audio": f"file://{samples.audio[1]}",
        "sync_mode": "cut_off",
        "output_path": str(out),
    }
    result = run_dag("example_sync_lipsync.py", conf, deferrable=True)
    assert result.state == "success", result.tasks
    tasks = emulator.admin.requests_tasks()
    uploads = [t for t in tasks if t["taskType"] == "mediaStorage"]
    assert len(uploads) == 2
    assert uploads[0]["media"].startswith("data:video/mp4;base64,")
    assert uploads[1]["media"].startswith("data:audio/wav;base64,")
    [sent] = [t for t in tasks if t["taskType"] == "videoInference"]
    # The job names the uploads by their media UUIDs, under which Runware holds our exact bytes.
    video_uuid, audio_uuid = sent["inputs"]["video"], sent["inputs"]["audio"][0]["source"]
    assert httpx.get(f"{emulator.url}/media/{video_uuid}").content == samples.video.read_bytes()
    assert httpx.get(f"{emulator.url}/media/{audio_uuid}").content == samples.audio[1].read_bytes()
    assert len({u["taskUUID"] for u in uploads}) == 2
    xcom = result.xcom["lipsync"]
    assert xcom["output_path"] == str(out)
    assert xcom["output_bytes"] == out.stat().st_size > 10_000
    info = probe_media(out)
    assert info.duration == pytest.approx(6.0, abs=0.1)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    # The "Output video" extra link: Airflow 3 stores it for the UI when the task ends;
    # Airflow 2.11's webserver asks the link itself when it draws the task.
    links = result.xcom_key("_link_SyncOutputVideoLink") or {"lipsync": link_as_the_webserver_asks(result)}
    assert links == {"lipsync": xcom["video_url"]}
    assert result.xcom_key("video_url") == {"lipsync": xcom["video_url"]}


def link_as_the_webserver_asks(result: DagResult) -> str:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_sync.links import SyncOutputVideoLink

    task = load_dag(EXAMPLE_DAGS / "example_sync_lipsync.py").get_task("lipsync")
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == result.dag_id, TaskInstance.run_id == result.run_id
            )
        ).one()
        return SyncOutputVideoLink().get_link(task, ti_key=ti.key)


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"audio": "notes.txt"}, r"audio\[0\]\.source .*'\.txt' is not an allowed audio type"),
        ({"video": "nope.mp4"}, r"video: file '.*nope\.mp4' does not exist"),
        ({"audio": "empty.wav"}, r"audio\[0\]\.source .*empty\.wav' is empty"),
    ],
    ids=["wrong-type", "missing", "empty"],
)
def test_a_missing_or_wrong_local_file_fails_before_any_request(
    emulator: EmulatorServer,
    run_dag: RunDag,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    conf: dict[str, str],
    reason: str,
) -> None:
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path))
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    caplog.set_level("INFO")
    result = run_dag("example_sync_lipsync.py", {k: str(tmp_path / v) for k, v in conf.items()})
    assert result.state == "failed"
    assert result.tasks == {"lipsync": "failed"}
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    # It failed for this reason, as a validation error, not for any other.
    assert re.search(reason, logged), logged[-3000:]
    assert "SyncValidationError" in logged
    assert emulator.admin.requests() == []


def test_each_render_is_an_asset_event(emulator: EmulatorServer, run_dag: RunDag) -> None:
    result = run_dag("example_sync_lipsync_pro.py", {"output_format": "MOV"})
    assert result.state == "success", result.tasks
    events = asset_event_extras("sync_lipsync_pro_renders", result.run_id)
    assert len(events) == 1
    [extra] = events
    out = result.xcom["lipsync_pro"]
    assert extra["task_uuid"] == out["task_uuid"]
    assert extra["video_url"] == out["video_url"]
    assert extra["model"] == "sync:lipsync-2-pro@1"


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "worker-polling"])
def test_fan_out_over_clips_with_dynamic_task_mapping(
    emulator: EmulatorServer,
    run_dag: RunDag,
    tmp_path: Path,
    trigger_runs: list[str],
    deferrable: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The output folder comes from the run's conf: the deployment allows it.
    monkeypatch.setenv("AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS", str(tmp_path))
    clips = [
        {
            "name": f"ep{n}",
            "video": "c64351d5-4c59-42f7-95e1-eace013eddab",
            "audio": f"https://cdn.test/ep{n}.wav",
        }
        for n in range(5)
    ]
    clips[2]["sync_mode"] = "remap"
    out_dir = tmp_path / "batch"
    runs = trigger_runs
    result = run_dag(
        "example_sync_fanout.py", {"clips": clips, "output_dir": f"{out_dir}/"}, deferrable=deferrable
    )
    assert len(runs) == (5 if deferrable else 0)
    assert result.state == "success", result.tasks
    renders = result.xcom["lipsync"]
    assert len(renders) == 5
    submitted = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert len({t["taskUUID"] for t in submitted}) == len(submitted) == 5
    assert sorted(t["inputs"]["audio"][0]["source"] for t in submitted) == sorted(c["audio"] for c in clips)
    modes = {
        t["inputs"]["audio"][0]["id"]: t.get("providerSettings", {}).get("sync", {}).get("syncMode")
        for t in submitted
    }
    assert modes["ep2"] == "remap"
    assert modes["ep0"] == "bounce"
    assert sorted(p.name for p in out_dir.iterdir()) == [f"ep{n}.mp4" for n in range(5)]
    report = result.xcom["report"]
    assert report["videos"] == 5
    assert report["total_cost"] == pytest.approx(sum(r["cost"] for r in renders))


@pytest.mark.parametrize(
    ("script", "emotion", "expected"),
    [
        ("We won! We actually won!", None, "surprised"),
        ("It is over.", None, "neutral"),
        ("It is over.", "sad", "sad"),
    ],
)
def test_tts_into_react_with_the_emotion_of_the_run(
    emulator: EmulatorServer, run_dag: RunDag, script: str, emotion: str | None, expected: str
) -> None:
    result = run_dag("example_sync_speech_to_react.py", {"script": script, "emotion": emotion})
    assert result.state == "success", result.tasks
    [sent] = [t for t in emulator.admin.requests_tasks() if t["taskType"] == "videoInference"]
    assert sent["model"] == "sync:react-1@1"
    assert sent["inputs"]["speech"][0]["text"] == script
    assert sent["providerSettings"]["sync"]["emotionPrompt"] == expected
    assert sent["providerSettings"]["sync"]["editRegion"] == "head"
    assert result.xcom["react"]["status"] == "success"
