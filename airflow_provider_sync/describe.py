"""How media sources and requests are shown in log lines and error messages.

Presigned URLs carry their credentials in the query string, a URL may hold a user and
password, and a data URI or base64 blob can be megabytes long: none of that belongs in a
log. Everything the provider logs about a source or a request goes through here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Inline base64 media (no path separators, long): shown by its length, not its content.
BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{128,}$")


def describe_source(source: str, limit: int = 120) -> str:
    """``source`` fit for a log line: URLs without their query (signatures) and data shortened."""
    text = str(source)
    lowered = text[:8].lower()
    if lowered.startswith("data:"):
        head = text.split(",", 1)[0]
        return f"{head[:60]},... ({len(text)} chars)"
    if "://" in text:
        parts = urlsplit(text)
        if parts.query or parts.fragment:
            text = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + "?..."
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host in a URL
            text = text.replace(netloc, "***@" + netloc.rsplit("@", 1)[1], 1)
    elif BASE64.match(text):
        return f"{text[:16]}... (base64, {len(text)} chars)"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def describe_request(request: dict[str, Any]) -> str:
    """One line summing up a ``videoInference`` task's inputs and settings (not its video).

    ``audio a-1=s3://bucket/fr.wav; speech s-1 (52 chars, voice Alice); outputFormat=WEBM;
    settings syncMode=loop; 2 segments``: sources as :func:`describe_source` shows them.
    """
    inputs = request["inputs"]
    audio = inputs.get("audio") or []
    if isinstance(audio, str):  # sync-3: one source
        parts = [f"audio {describe_source(audio)}"]
    else:
        parts = [f"audio {a['id']}={describe_source(a['source'])}" for a in audio]
    parts += [
        f"speech {s['id']} ({len(s['text'])} chars, voice {s['provider']['voiceId']})"
        for s in inputs.get("speech", [])
    ]
    speech = request.get("speech")
    if speech:  # sync-3: one top-level speech
        parts.append(f"speech ({len(speech['text'])} chars, voice {speech['voice']})")
    settings = request.get("settings") or request.get("providerSettings", {}).get("sync", {})
    for key in ("outputFormat", "outputQuality", "ttl"):
        if key in request:
            parts.append(f"{key}={request[key]}")
    plain = [f"{k}={v}" for k, v in settings.items() if k != "segments"]
    if plain:
        parts.append("settings " + ", ".join(plain))
    if "segments" in settings:
        parts.append(f"{len(settings['segments'])} segments")
    return "; ".join(parts)


__all__ = ["describe_request", "describe_source"]
