"""Input classification, file checks, streamed upload bodies and atomic, streamed saves."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sync import media
from airflow_provider_sync.exceptions import SyncValidationError


@pytest.mark.parametrize(
    ("source", "remote"),
    [
        ("c64351d5-4c59-42f7-95e1-eace013eddab", True),
        ("https://cdn.test/a.wav", True),
        ("HTTP://cdn.test/a.wav", True),
        ("data:audio/wav;base64,UklGRg==", True),
        (base64.b64encode(b"x" * 200).decode(), True),
        ("/data/clips/take1.mp4", False),
        ("file:///data/clips/take1.mp4", False),
        ("s3://bucket/take1.mp4", False),
        ("take1.mp4", False),
    ],
)
def test_what_needs_uploading(source: str, remote: bool) -> None:
    assert media.is_remote(source) is remote


def test_local_files_are_checked_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 1000)
    found = media.inspect_local(str(clip), "video", "video")
    assert (found.size, found.mime, found.kind) == (1000, "video/mp4", "video")
    with pytest.raises(SyncValidationError, match=r"video: file .*nope.mp4' does not exist"):
        media.inspect_local(str(tmp_path / "nope.mp4"), "video", "video")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(
        SyncValidationError, match=r"audio\[0\].source.*'.txt' is not an allowed audio type; allowed: .aac"
    ):
        media.inspect_local(str(tmp_path / "notes.txt"), "audio[0].source", "audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(SyncValidationError, match="is empty"):
        media.inspect_local(str(tmp_path / "empty.wav"), "audio", "audio")
    monkeypatch.setitem(media.MAX_UPLOAD_BYTES, "video", 999)
    with pytest.raises(SyncValidationError, match="the video upload limit is"):
        media.inspect_local(str(clip), "video", "video")


@pytest.mark.usefixtures("local_object_storage")
def test_object_storage_paths_are_read_through_airflow(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF" + b"\x01" * 996)
    found = media.inspect_local(f"local://{clip}", "audio", "audio")
    assert found.size == 1000
    assert found.version.startswith("1000:")
    assert found.version != "1000:"  # a modification stamp was found
    with found.open() as stream:
        assert stream.read(4) == b"RIFF"


def test_the_upload_body_is_streamed_valid_json_with_the_whole_file(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4000 + b"tail"  # ~1 MB, not a multiple of 3
    clip = tmp_path / "voice.wav"
    clip.write_bytes(payload)
    found = media.inspect_local(str(clip), "audio", "audio")
    chunks = list(media.upload_body("up-1", found))
    assert len(chunks) > 3  # streamed, not built in one piece
    assert max(len(c) for c in chunks) <= media.CHUNK * 4 // 3 + 4
    [task] = json.loads(b"".join(chunks))
    assert task["taskType"] == "mediaStorage"
    assert task["operation"] == "upload"
    assert task["taskUUID"] == "up-1"
    header, data = task["media"].split(",", 1)
    assert header == "data:audio/wav;base64"
    assert base64.b64decode(data) == payload


def test_saving_is_atomic_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out" / "video.mp4"

    def broken() -> Iterator[bytes]:
        yield b"first half"
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        media.save_stream(broken(), str(target))
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    assert media.save_stream(iter([b"a" * 10, b"b" * 5]), str(target)) == 15
    assert target.read_bytes() == b"a" * 10 + b"b" * 5


@pytest.mark.usefixtures("local_object_storage")
def test_saving_to_object_storage_and_to_a_folder(tmp_path: Path) -> None:
    url = f"local://{tmp_path}/bucket/renders/v.mp4"
    assert media.save_stream(iter([b"xyz"]), url) == 3
    assert (tmp_path / "bucket" / "renders" / "v.mp4").read_bytes() == b"xyz"
    assert media.output_target("s3://b/renders/", "uuid-1", "WEBM") == "s3://b/renders/uuid-1.webm"
    assert media.output_target("/data/v.mp4", "uuid-1", "MP4") == "/data/v.mp4"


def test_replace_sources_swaps_only_uploaded_inputs() -> None:
    request = {
        "inputs": {
            "video": "/data/v.mp4",
            "audio": [{"id": "a", "source": "/data/a.wav"}, {"id": "b", "source": "https://cdn/b.wav"}],
        }
    }
    out = media.replace_sources(request, {"/data/v.mp4": "vid-uuid", "/data/a.wav": "aud-uuid"})
    assert out["inputs"]["video"] == "vid-uuid"
    assert [a["source"] for a in out["inputs"]["audio"]] == ["aud-uuid", "https://cdn/b.wav"]
    assert request["inputs"]["video"] == "/data/v.mp4"  # the original is untouched
