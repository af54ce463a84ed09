"""``python -m airflow_provider_sync.live_check``, run against the emulator standing in for
Runware: free questions only by default, the paid one only when asked twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync import live_check
from airflow_provider_sync.testing.emulator import EmulatorServer

KEY = "live-check-key-6d2a"

pytestmark = pytest.mark.integration


def confirm(emulator: EmulatorServer) -> list[str]:
    """The emulator is not Runware: the user confirms sending the key to it."""
    return ["--confirm-base-url", emulator.base_url]


@pytest.fixture
def emulator(tmp_path: Path) -> Any:
    with EmulatorServer(api_keys=[KEY], render_seconds=0.2, output="metadata", media_dir=tmp_path / "m") as s:
        yield s


def test_free_checks_write_fixtures_and_create_no_job(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", KEY + "\n")
    out = tmp_path / "answers"
    assert live_check.main(["--base-url", emulator.base_url, *confirm(emulator), "--out", str(out)]) == 0
    files = {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(files) == {
        "live-get-response-unknown.json",
        "live-get-response-batch-of-three.json",
        "live-invalid-api-key.json",
    }
    assert files["live-invalid-api-key.json"]["http_status"] == 401
    assert len(files["live-get-response-batch-of-three.json"]["request"]) == 3
    assert all(f["source"].startswith(f"live_check against {emulator.base_url}") for f in files.values())
    assert emulator.admin.submissions() == []
    assert KEY not in "".join(p.read_text() for p in out.glob("*.json"))


def test_a_paid_render_is_only_printed_without_yes(
    emulator: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", KEY)
    code = live_check.main(
        ["--base-url", emulator.base_url, *confirm(emulator), "--out", str(tmp_path), "--paid-render"]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "Nothing was sent" in printed
    assert "sync:lipsync-2@1" in printed
    assert "USD 0.044" in printed
    assert emulator.admin.requests() == []


def test_a_paid_render_with_yes_records_the_job_and_the_conflict(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", KEY)
    monkeypatch.setattr(live_check.time, "sleep", lambda s: None)
    emulator.admin.configure(render_seconds=0)
    out = tmp_path / "paid"
    assert (
        live_check.main(
            ["--base-url", emulator.base_url, *confirm(emulator), "--out", str(out), "--paid-render", "--yes"]
        )
        == 0
    )
    assert len(emulator.admin.submissions()) == 1
    conflict = json.loads((out / "live-resubmit-same-task-uuid.json").read_text())
    assert conflict["body"]["errors"][0]["code"] == "conflictTaskUUID"
    last = sorted(out.glob("live-get-response-0*.json"))[-1]
    assert json.loads(last.read_text())["body"]["data"][0]["status"] == "success"


def test_without_a_key_it_says_where_to_put_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    assert live_check.main(["--out", str(tmp_path)]) == 2
