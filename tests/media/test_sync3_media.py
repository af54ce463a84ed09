"""sync-3's audio lives in other places (one inputs.audio string, each segment's own audio):
files there are found, held to the allowed roots when templated, replaced after upload, and
named in lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.lineage import input_sources
from airflow_provider_sync.media import find_local_media, replace_sources
from airflow_provider_sync.models import build_video_inference
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def test_sync3_audio_and_segment_files_are_found_uploaded_and_replaced(tmp_path: Path) -> None:
    one, two = tmp_path / "one.wav", tmp_path / "two.mp3"
    one.write_bytes(b"RIFF" + b"\0" * 40)
    two.write_bytes(b"ID3" + b"\0" * 40)
    single = build_video_inference(model="sync-3", video=VIDEO, audio=str(one)).to_payload()
    [found] = find_local_media(single)
    assert (found.field, found.source) == ("audio", str(one))
    assert replace_sources(single, {str(one): "m-1"})["inputs"] == {"video": VIDEO, "audio": "m-1"}

    segments = build_video_inference(
        model="sync-3",
        video=VIDEO,
        segments=[
            {"start_time": 0, "end_time": 1, "audio": str(two)},
            {"start_time": 1, "end_time": 2, "audio": AUDIO},
        ],
    ).to_payload()
    [found] = find_local_media(segments)
    assert (found.field, found.source) == ("segments[0].audio", str(two))
    replaced = replace_sources(segments, {str(two): "m-2"})
    assert [s["audio"] for s in replaced["settings"]["segments"]] == ["m-2", AUDIO]
    assert input_sources(segments) == [VIDEO, str(two), AUDIO]


def test_a_templated_segment_file_outside_the_allowed_roots_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "x.wav"
    outside.parent.mkdir()
    outside.write_bytes(b"RIFF" + b"\0" * 40)
    request = build_video_inference(
        model="sync-3", video=VIDEO, segments=[{"start_time": 0, "end_time": 1, "audio": str(outside)}]
    ).to_payload()
    roots = MediaRoots.parse([str(tmp_path / "allowed")], "allowed_media_roots")
    with pytest.raises(SyncValidationError, match=r"segments\[0\]\.audio"):
        find_local_media(request, roots, TemplatedPaths(segments=True))
    assert find_local_media(request, roots, TemplatedPaths(segments=False))  # literal: trusted
