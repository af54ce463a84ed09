"""What a valid ``videoInference`` task asks for, read the same way from either request shape.

lipsync-2, lipsync-2-pro and react-1 carry lists in ``inputs`` and ``providerSettings.sync``;
sync-3 carries one ``inputs.audio`` string, a top-level ``speech`` and ``settings`` whose
segments name their own audio. Rendering and billing read both through these functions.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sync.testing.emulator.validation import SYNC3_MODELS


def is_sync3(request: dict[str, Any]) -> bool:
    """True for a sync-3 request (top-level ``settings`` and ``speech``)."""
    return request.get("model") in SYNC3_MODELS


def settings(request: dict[str, Any]) -> dict[str, Any]:
    """The model settings: sync-3's ``settings``, the others' ``providerSettings.sync``."""
    found = (
        request.get("settings") if is_sync3(request) else (request.get("providerSettings") or {}).get("sync")
    )
    return dict(found or {})


def default_sync_mode(request: dict[str, Any]) -> str:
    """``syncMode`` when the request sets none: the older models' page says ``bounce``;
    Runware's sync-3 client starts from ``cut_off``."""
    return "cut_off" if is_sync3(request) else "bounce"


def audio_inputs(request: dict[str, Any]) -> list[tuple[str, str]]:
    """``(id, source)`` of every audio file the request names, segments' own audio included."""
    inputs = request.get("inputs") or {}
    if not is_sync3(request):
        items = inputs.get("audio") or inputs.get("audios") or []
        return [(str(item.get("id", f"audio-{n}")), str(item.get("source"))) for n, item in enumerate(items)]
    found = [("audio", str(inputs["audio"]))] if isinstance(inputs.get("audio"), str) else []
    for n, seg in enumerate(settings(request).get("segments") or []):
        found.append((f"segment-{n}", str(seg.get("audio"))))
    return found


def speech_inputs(request: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(id, text, voice)`` of every text-to-speech input."""
    if is_sync3(request):
        speech = request.get("speech")
        return [("speech", str(speech.get("text", "")), str(speech.get("voice", "voice")))] if speech else []
    return [
        (
            str(item["id"]),
            str(item.get("text", "")),
            str((item.get("provider") or {}).get("voiceId", "voice")),
        )
        for item in (request.get("inputs") or {}).get("speech") or []
    ]


def segments(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments, each with a ``ref`` to its track (sync-3's get ``segment-<n>``)."""
    found = settings(request).get("segments") or []
    if not is_sync3(request):
        return list(found)
    return [
        {**{k: v for k, v in seg.items() if k != "audio"}, "ref": f"segment-{n}"}
        for n, seg in enumerate(found)
    ]
