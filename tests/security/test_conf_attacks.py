"""Attacks through ``dag_run.conf`` on the example DAGs, as someone with trigger rights would try.

Each run goes through ``dag.test()`` against the emulator. What every attempt gets now: the
task fails with ``SyncValidationError`` naming the parameter, before any request reaches
Runware, and nothing on disk changes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.paths import CONFIG_ENV
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import DagResult, RunDag

pytestmark = pytest.mark.integration


@pytest.fixture
def allowed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    monkeypatch.setenv(CONFIG_ENV, str(root))
    return root


def attack(
    run_dag: RunDag,
    emulator: EmulatorServer,
    capfd: pytest.CaptureFixture[str],
    dag_file: str,
    conf: dict[str, Any],
    *fragments: str,
) -> DagResult:
    capfd.readouterr()
    result = run_dag(dag_file, conf)
    out, err = capfd.readouterr()
    assert result.state == "failed", result.tasks
    assert emulator.admin.requests() == [], "the attack reached Runware"
    logged = out + err
    assert "SyncValidationError" in logged
    for fragment in fragments:
        assert fragment in logged
    return result


def test_output_path_cannot_overwrite_airflow_cfg(
    emulator: EmulatorServer,
    run_dag: RunDag,
    airflow_home: Path,
    allowed_root: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    cfg = airflow_home / "airflow.cfg"
    created = not cfg.exists()
    if created:
        cfg.write_text("[core]\n# stand-in for the deployment's configuration\n")
    before = cfg.read_bytes()
    try:
        attack(run_dag, emulator, capfd, "example_sync_lipsync.py", {"output_path": str(cfg)}, "output_path")
        assert cfg.read_bytes() == before
    finally:
        if created:
            cfg.unlink()


def test_output_path_cannot_create_a_dag_file(
    emulator: EmulatorServer, run_dag: RunDag, allowed_root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_sync._compat import conf

    dags = Path(conf.get("core", "dags_folder"))
    for name in (f"zz_attack_{uuid.uuid4().hex}.py", f"zz_attack_{uuid.uuid4().hex}.mp4"):
        target = dags / name
        try:
            attack(run_dag, emulator, capfd, "example_sync_lipsync.py", {"output_path": str(target)}, name)
            assert not target.exists()
        finally:
            target.unlink(missing_ok=True)


def test_output_path_cannot_climb_out_with_dot_dot(
    emulator: EmulatorServer, run_dag: RunDag, allowed_root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    attack(run_dag, emulator, capfd, "example_sync_lipsync.py", {"output_path": "../../x"}, "video file name")
    attack(run_dag, emulator, capfd, "example_sync_lipsync.py", {"output_path": "../../x.mp4"}, "relative")
    escape = f"{allowed_root}/../../x.mp4"
    attack(run_dag, emulator, capfd, "example_sync_lipsync.py", {"output_path": escape}, "outside")
    assert not (allowed_root.parent.parent / "x.mp4").exists()


def test_audio_cannot_upload_another_teams_recording(
    emulator: EmulatorServer,
    run_dag: RunDag,
    tmp_path: Path,
    allowed_root: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    recording = tmp_path / "other-team" / "interview.wav"
    recording.parent.mkdir()
    recording.write_bytes(b"RIFF" + b"\x07" * 2000)
    attack(
        run_dag,
        emulator,
        capfd,
        "example_sync_lipsync.py",
        {"audio": str(recording)},
        "audio[0].source",
        str(recording.parent),
    )
    attack(run_dag, emulator, capfd, "example_sync_react.py", {"audio": f"file://{recording}"}, "audio[0]")


def test_audio_cannot_select_another_airflow_connection(
    emulator: EmulatorServer,
    run_dag: RunDag,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(CONFIG_ENV, "s3://bucket/")
    attack(
        run_dag,
        emulator,
        capfd,
        "example_sync_lipsync.py",
        {"audio": "s3://other_conn@bucket/key.wav"},
        "selects a connection",
    )


def test_fan_out_output_folder_and_clip_names_stay_inside_the_roots(
    emulator: EmulatorServer,
    run_dag: RunDag,
    tmp_path: Path,
    allowed_root: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    clip = {"video": "c64351d5-4c59-42f7-95e1-eace013eddab", "audio": "https://cdn.test/a.wav"}
    outside = tmp_path / "outside"
    attack(
        run_dag,
        emulator,
        capfd,
        "example_sync_fanout.py",
        {"clips": [{**clip, "name": "ep1"}], "output_dir": f"{outside}/"},
        "output_path",
    )
    attack(
        run_dag,
        emulator,
        capfd,
        "example_sync_fanout.py",
        {"clips": [{**clip, "name": "../../escaped"}], "output_dir": f"{allowed_root}/"},
        "output_path",
    )
    assert not outside.exists()
    assert not (tmp_path.parent / "escaped.mp4").exists()
