"""Re-running one task instance of an example DAG through conf: one job unless the content changed.

``dag.test()`` with a fixed logical date replaces the earlier run under the same run id, so
the task instance (dag id, run id, task id, map index) is the same one again, as when a
task is cleared or retried. The emulator counts the jobs it created.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_sync.paths import CONFIG_ENV

from ..dag_fixtures import RunDag

if TYPE_CHECKING:
    from airflow_provider_sync.testing.emulator import EmulatorServer

pytestmark = pytest.mark.integration

SAME_RUN = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)


def presigned(signature: str, date: str) -> str:
    return (
        "https://voices.s3.eu-west-1.amazonaws.com/ep1/fr.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIAEXAMPLE%2F{date}%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date={date}T040000Z"
        f"&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    )


def rerun(run_dag: RunDag, conf: dict[str, str]) -> None:
    result = run_dag("example_sync_lipsync.py", conf, logical_date=SAME_RUN, run_after=SAME_RUN)
    assert result.state == "success", result.tasks


def test_a_rerun_with_only_a_fresh_signature_in_the_audio_url_is_one_job(
    emulator: EmulatorServer, run_dag: RunDag
) -> None:
    rerun(run_dag, {"audio": presigned("0a1b2c3d", "20261126")})
    rerun(run_dag, {"audio": presigned("9f8e7d6c", "20261127")})
    assert len(emulator.admin.submissions()) == 1


def test_a_local_file_rewritten_with_identical_bytes_is_one_job(
    emulator: EmulatorServer, run_dag: RunDag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path))
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + bytes(range(256)) * 64)
    rerun(run_dag, {"audio": str(voice)})
    voice.write_bytes(voice.read_bytes())  # exported again: a new mtime, the same bytes
    os.utime(voice, ns=(10**18, 10**18))
    rerun(run_dag, {"audio": str(voice)})
    assert len(emulator.admin.submissions()) == 1


def test_new_content_with_the_same_size_and_mtime_is_a_new_job(
    emulator: EmulatorServer, run_dag: RunDag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path))
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF" + b"\x01" * 16_000)
    stamp = voice.stat()
    rerun(run_dag, {"audio": str(voice)})
    voice.write_bytes(b"RIFF" + b"\x02" * 16_000)  # cp -p / rsync -t
    os.utime(voice, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    rerun(run_dag, {"audio": str(voice)})
    assert len(emulator.admin.submissions()) == 2
