"""What a log line shows of a media source: never credentials, never megabytes."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_sync.media import describe_source


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("https://b.s3.test/a.wav?X-Amz-Signature=abc", "https://b.s3.test/a.wav?..."),
        ("https://cdn.test/a.wav#token=abc", "https://cdn.test/a.wav?..."),
        ("https://user:pa55@cdn.test/a.wav", "https://***@cdn.test/a.wav"),
        ("s3://bucket/take.mp4", "s3://bucket/take.mp4"),
        ("/data/take.mp4", "/data/take.mp4"),
    ],
    ids=["query", "fragment", "userinfo", "plain-url", "path"],
)
def test_urls_lose_their_query_fragment_and_password(source: str, shown: str) -> None:
    assert describe_source(source) == shown


def test_inline_media_is_summarised_not_logged() -> None:
    blob = base64.b64encode(b"\x00" * 3000).decode()
    assert (
        describe_source(f"data:audio/wav;base64,{blob}")
        == f"data:audio/wav;base64,... ({len(blob) + 22} chars)"
    )
    assert describe_source(blob) == f"{blob[:16]}... (base64, {len(blob)} chars)"
    long_path = "/data/" + "x" * 300 + ".wav"
    assert describe_source(long_path) == f"{long_path[:120]}... ({len(long_path)} chars)"
