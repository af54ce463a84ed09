"""At run time every problem is reported at once, before any request (issue 19, point 15).

A run used to stop at the first one: the output path on one try, the video on the next, then
the audio. Now the request's values, the timing values, every path and the transfer modes are
checked together, and the error lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator

from .conftest import FakeRunware, FakeTI

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


def run(tmp_path: Path, fake: FakeRunware, **params: Any) -> SyncValidationError:
    values = {"task_id": "lipsync", "video": VIDEO, "audio": "https://cdn.test/a.wav", **params}
    op = SyncLipsyncOperator(**values)
    ti = FakeTI()
    context: Any = {"ti": ti}
    op.render_template_fields(context)
    with pytest.raises(SyncValidationError) as err:
        op.execute(context)
    assert fake.tasks == []  # nothing was sent
    assert ti.xcoms == {"video_url": ""}  # the link's XCom is there: no "XCom not found"
    return err.value


def test_every_path_problem_and_every_bad_value_in_one_error(
    tmp_path: Path, fake_runware: FakeRunware
) -> None:
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"old")
    error = run(
        tmp_path,
        fake_runware,
        video=str(tmp_path / "missing.mp4"),
        audio=[
            {"id": "a", "source": str(tmp_path / "missing.wav")},
            {"id": "b", "source": str(tmp_path / "notes.txt")},
        ],
        output_path=str(existing),
        sync_mode="{{ 'remapp' }}",  # known only once rendered
        poll_interval="{{ 0 }}",
    )
    text = "\n".join(error.problems)
    assert "sync_mode (providerSettings.sync.syncMode): 'remapp' is not allowed" in text
    assert "poll_interval" in text
    assert f"output_path: '{existing}' already exists" in text
    assert f"video: file '{tmp_path / 'missing.mp4'}' does not exist" in text
    assert "audio[0].source (id 'a')" in text
    assert "audio[1].source (id 'b')" in text
    assert len(error.problems) == 6


def test_paths_are_checked_even_when_the_request_is_invalid_without_reading_the_files(
    tmp_path: Path, fake_runware: FakeRunware, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "take.mp4"
    video.write_bytes(b"\0" * 1024)
    read: list[Any] = []
    original = Path.open

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        read.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    error = run(
        tmp_path, fake_runware, video=str(video), temperature="{{ 7 }}", output_path=str(tmp_path / "x.avi")
    )
    assert [p.split(":")[0] for p in error.problems] == [
        "temperature (providerSettings.sync.temperature)",
        "output_path",
    ]
    assert video not in read  # a run that fails anyway does not hash a large file


def test_a_valid_run_still_reads_and_identifies_its_files(tmp_path: Path, fake_runware: FakeRunware) -> None:
    from airflow_provider_sync.media_plan import plan_media
    from airflow_provider_sync.paths import MediaRoots, TemplatedPaths

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF" + b"\0" * 100)
    request = {"inputs": {"video": VIDEO, "audio": [{"id": "a", "source": str(audio)}]}}
    plan = plan_media(
        request,
        roots=MediaRoots(),
        origins=TemplatedPaths(),
        input_transfer="auto",
        output_transfer="auto",
        output_path=None,
        overwrite=False,
    )
    assert [m.version.split(":")[1] for m in plan.uploads] == ["sha256"]
