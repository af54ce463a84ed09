"""The emulator's own check of a ``videoInference`` task, written from the vendor's pages.

It deliberately shares no code with :mod:`airflow_provider_sync.models`: the tests compare
the two, so a mistake in one shows up as a disagreement with the other.

Two request shapes: lipsync-2, lipsync-2-pro and react-1 take ``inputs.audio`` /
``inputs.speech`` lists and ``providerSettings.sync``; sync-3 (``runware.ai/docs/models/sync-3``)
takes one ``inputs.audio`` string, a top-level ``speech`` and a top-level ``settings``
(:func:`_check_sync3`).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from airflow_provider_sync.testing.emulator.remote import is_loopback_url

SYNC_MODES = ["bounce", "loop", "cut_off", "silence", "remap"]
EDIT_REGIONS = ["lips", "face", "head"]
EMOTIONS = ["happy", "sad", "angry", "disgusted", "surprised", "neutral"]
OUTPUT_FORMATS = ["MP4", "WEBM", "MOV"]
_COMMON = ["syncMode", "temperature", "activeSpeakerDetection", "occlusionDetectionEnabled"]
MODEL_SETTINGS: dict[str, list[str]] = {
    "sync:lipsync-2@1": [*_COMMON, "segments"],
    "sync:lipsync-2-pro@1": [*_COMMON, "segments"],
    "sync:react-1@1": [*_COMMON, "editRegion", "emotionPrompt"],
}
TOP_LEVEL = {
    "taskType",
    "taskUUID",
    "model",
    "inputs",
    "providerSettings",
    "outputType",
    "outputFormat",
    "outputQuality",
    "deliveryMethod",
    "includeCost",
    "webhookURL",
    "uploadEndpoint",
    "numberResults",
    # runware-python's task_map.py (generated from Runware's schema bundle) and sdk-python's
    # IVideoInference both carry ``ttl`` for video inference.
    "ttl",
}
#: The emulator's own ceiling on ``numberResults`` (Runware's for Sync is not published).
MAX_RESULTS = 20
#: sync-3's ids: its page's, and the one Runware's client registries listed in mid-2026.
SYNC3_MODELS = ("sync:3@0", "sync:lipsync@3")
#: Runware's schema bundle declares these on every Sync model (runware-sdk 1.8.0 task_map.py);
#: runware-typescript describes ``safety`` as ``{checkContent, mode: none|fast|full}``.
COMMON_TOP_LEVEL = {"safety", "routing"}
SYNC3_TOP_LEVEL = {"settings", "speech"}
SAFETY_MODES = ["none", "fast", "full"]
SYNC3_MODES = ["bounce", "cut_off", "silence", "remap"]
SYNC3_SETTINGS = [
    "syncMode",
    "temperature",
    "mode",
    "occlusionDetection",
    "activeSpeakerDetection",
    "segments",
    "tts",
]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _Errors:
    def __init__(self, task: dict[str, Any]) -> None:
        self.items: list[dict[str, Any]] = []
        self.task_uuid = task.get("taskUUID")

    def add(self, code: str, parameter: str, message: str, allowed: list[Any] | None = None) -> None:
        item: dict[str, Any] = {
            "code": code,
            "message": message,
            "parameter": parameter,
            "taskType": "videoInference",
            "taskUUID": self.task_uuid,
        }
        if allowed is not None:
            item["allowedValues"] = allowed
        self.items.append(item)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def validate_task(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Runware-shaped error objects for everything wrong with ``task``; empty when valid."""
    e = _Errors(task)
    sync3 = task.get("model") in SYNC3_MODELS
    allowed_keys = TOP_LEVEL | COMMON_TOP_LEVEL
    allowed_keys = (allowed_keys | SYNC3_TOP_LEVEL) - {"providerSettings"} if sync3 else allowed_keys
    for key in sorted(set(task) - allowed_keys):
        e.add("unsupportedParameter", key, f"'{key}' is not a parameter of videoInference for this model")
    if not (isinstance(task.get("taskUUID"), str) and _UUID.match(task["taskUUID"])):
        e.add("invalidParameter", "taskUUID", "taskUUID must be a UUID v4 string")
    model = task.get("model")
    if model not in MODEL_SETTINGS and not sync3:
        e.add(
            "invalidModel", "model", f"model {model!r} is not a Sync model", [*MODEL_SETTINGS, *SYNC3_MODELS]
        )
    if "deliveryMethod" in task and task["deliveryMethod"] != "async":
        e.add("invalidParameter", "deliveryMethod", "Sync models only run asynchronously", ["async"])
    if "outputType" in task and task["outputType"] != "URL":
        e.add("invalidParameter", "outputType", "only URL output is offered", ["URL"])
    fmt = task.get("outputFormat")
    if fmt is not None and (not isinstance(fmt, str) or fmt.upper() not in OUTPUT_FORMATS):
        e.add("invalidParameter", "outputFormat", f"outputFormat {fmt!r} is not supported", OUTPUT_FORMATS)
    quality = task.get("outputQuality")
    if quality is not None and not (
        isinstance(quality, int) and not isinstance(quality, bool) and 20 <= quality <= 99
    ):
        e.add(
            "invalidParameter",
            "outputQuality",
            f"outputQuality must be an integer from 20 to 99, not {quality!r}",
        )
    results = task.get("numberResults")
    if results is not None and not (_is_int(results) and 1 <= results <= MAX_RESULTS):
        e.add(
            "invalidParameter",
            "numberResults",
            f"numberResults must be an integer from 1 to {MAX_RESULTS}, not {results!r}",
        )
    ttl = task.get("ttl")
    if ttl is not None and not (_is_int(ttl) and ttl >= 1):
        e.add("invalidParameter", "ttl", f"ttl must be a whole number of seconds >= 1, not {ttl!r}")
    if "includeCost" in task and not isinstance(task["includeCost"], bool):
        e.add("invalidParameter", "includeCost", "includeCost must be true or false")
    for key in ("uploadEndpoint", "webhookURL"):
        url = task.get(key)
        if url is None:
            continue
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            e.add("invalidParameter", key, f"{key} must be an http(s) URL")
        elif key == "uploadEndpoint" and not is_loopback_url(url):
            # Runware would PUT there; the emulator stays offline and says so at once.
            e.add("invalidParameter", key, "the emulator delivers only to loopback URLs (127.0.0.1, ::1)")
    _check_safety(task.get("safety"), e)
    if "routing" in task and not isinstance(task["routing"], dict):
        e.add("invalidParameter", "routing", "routing must be an object")
    if sync3:
        _check_sync3(task, e)
        return e.items
    ids = _check_inputs(task.get("inputs"), e)
    _check_settings(task.get("providerSettings"), model, ids, e)
    return e.items


def _check_safety(safety: Any, e: _Errors) -> None:
    if safety is None:
        return
    if not isinstance(safety, dict) or set(safety) - {"checkContent", "mode"}:
        e.add("invalidParameter", "safety", "safety is an object with checkContent and/or mode")
        return
    if "checkContent" in safety and not isinstance(safety["checkContent"], bool):
        e.add("invalidParameter", "safety.checkContent", "checkContent must be true or false")
    if "mode" in safety and safety["mode"] not in SAFETY_MODES:
        e.add("invalidParameter", "safety.mode", f"mode {safety['mode']!r} is not allowed", SAFETY_MODES)


def _check_sync3(task: dict[str, Any], e: _Errors) -> None:
    """sync-3: its inputs, top-level speech and settings, and its page's Compatibility rules."""
    inputs = task.get("inputs")
    if not isinstance(inputs, dict):
        e.add("missingParameter", "inputs", "inputs (with video) is required")
        inputs = {}
    for key in sorted(set(inputs) - {"video", "audio"}):
        e.add("unsupportedParameter", f"inputs.{key}", f"'{key}' is not an input of sync-3")
    if not _nonempty_str(inputs.get("video")):
        e.add("missingParameter", "inputs.video", "inputs.video (a media UUID or URL) is required")
    if "audio" in inputs and not _nonempty_str(inputs["audio"]):
        e.add("invalidParameter", "inputs.audio", "inputs.audio is one media UUID or URL (a string)")
    speech = task.get("speech")
    if speech is not None and not (
        isinstance(speech, dict)
        and not set(speech) - {"text", "voice"}
        and _nonempty_str(speech.get("text"))
        and _nonempty_str(speech.get("voice"))
    ):
        e.add("invalidParameter", "speech", "speech is an object with text and voice")
    settings = task.get("settings")
    if settings is None:
        settings = {}
    elif not isinstance(settings, dict):
        e.add("invalidParameter", "settings", "settings must be an object")
        settings = {}
    for key in sorted(set(settings) - set(SYNC3_SETTINGS)):
        e.add("unsupportedParameter", f"settings.{key}", f"sync-3 does not accept '{key}'", SYNC3_SETTINGS)
    _enum(settings, "syncMode", SYNC3_MODES, e, "settings")
    _enum(settings, "mode", EDIT_REGIONS, e, "settings")
    temp = settings.get("temperature")
    if temp is not None and not (_is_number(temp) and 0 <= temp <= 1):
        e.add("invalidParameter", "settings.temperature", f"temperature must be 0..1, not {temp!r}")
    if "occlusionDetection" in settings and not isinstance(settings["occlusionDetection"], bool):
        e.add("invalidParameter", "settings.occlusionDetection", "occlusionDetection must be true or false")
    if "activeSpeakerDetection" in settings:
        _check_active_speaker(settings["activeSpeakerDetection"], e)
    if "tts" in settings:
        tts = settings["tts"]
        if not isinstance(tts, dict) or not tts or set(tts) - {"stability", "similarityBoost"}:
            e.add(
                "invalidParameter", "settings.tts", "tts is an object with stability and/or similarityBoost"
            )
        else:
            for key, value in tts.items():
                if not (_is_number(value) and 0 <= value <= 1):
                    e.add("invalidParameter", f"settings.tts.{key}", f"{key} must be 0..1, not {value!r}")
        if speech is None:
            e.add("missingParameter", "speech", "When settings.tts is provided, speech is required")
    if "segments" in settings:
        _check_sync3_segments(settings["segments"], e)
    given = [
        name
        for name, present in (
            ("inputs.audio", "audio" in inputs),
            ("speech", speech is not None),
            ("settings.segments", "segments" in settings),
        )
        if present
    ]
    if len(given) != 1:
        e.add(
            "invalidParameter" if given else "missingParameter",
            "inputs.audio",
            "Provide exactly one of: inputs.audio, speech, settings.segments "
            f"(given: {', '.join(given) or 'none'})",
        )


def _check_active_speaker(asd: Any, e: _Errors) -> None:
    base = "settings.activeSpeakerDetection"
    keys = {"autoDetect", "frameNumber", "coordinates", "boundingBoxes"}
    if not isinstance(asd, dict) or not asd or set(asd) - keys:
        e.add(
            "invalidParameter", base, "an object with autoDetect, frameNumber + coordinates, or boundingBoxes"
        )
        return
    if "autoDetect" in asd and not isinstance(asd["autoDetect"], bool):
        e.add("invalidParameter", f"{base}.autoDetect", "autoDetect must be true or false")
    frame = asd.get("frameNumber")
    if frame is not None and not (_is_int(frame) and frame >= 0):
        e.add("invalidParameter", f"{base}.frameNumber", "frameNumber must be a whole number >= 0")
    coords = asd.get("coordinates")
    if coords is not None and not (
        isinstance(coords, list) and len(coords) == 2 and all(_is_int(c) and 1 <= c <= 4096 for c in coords)
    ):
        e.add("invalidParameter", f"{base}.coordinates", "coordinates are [x, y], whole numbers 1..4096")
    boxes = asd.get("boundingBoxes")
    if boxes is not None and not (
        isinstance(boxes, list)
        and boxes
        and all(
            box is None
            or (isinstance(box, list) and len(box) == 4 and all(_is_number(v) and v >= 0 for v in box))
            for box in boxes
        )
    ):
        e.add(
            "invalidParameter", f"{base}.boundingBoxes", "boundingBoxes: per frame [x1, y1, x2, y2] or null"
        )
    if boxes is not None and coords is not None:
        e.add("invalidParameter", f"{base}.boundingBoxes", "boundingBoxes cannot be used with coordinates")
    if (coords is None) != (frame is None):
        e.add("invalidParameter", f"{base}.coordinates", "coordinates and frameNumber must be used together")


def _check_sync3_segments(segments: Any, e: _Errors) -> None:
    base = "settings.segments"
    if not isinstance(segments, list) or not segments:
        e.add("invalidParameter", base, "segments must be a non-empty list")
        return
    for n, seg in enumerate(segments):
        where = f"{base}[{n}]"
        if not isinstance(seg, dict):
            e.add("invalidParameter", where, "each segment is an object")
            continue
        for key in sorted(set(seg) - {"startTime", "endTime", "audio", "audioStartTime", "audioEndTime"}):
            e.add("unsupportedParameter", f"{where}.{key}", f"'{key}' is not a sync-3 segment field")
        if not _nonempty_str(seg.get("audio")):
            e.add("missingParameter", f"{where}.audio", "each segment names its audio (media UUID or URL)")
    # The timing rules are the older models' (start < end, audio times together, no overlap).
    _check_segment_times(segments, e, base)


def _check_inputs(inputs: Any, e: _Errors) -> list[str]:
    if not isinstance(inputs, dict):
        e.add("missingParameter", "inputs", "inputs (with video and audio or speech) is required")
        return []
    for key in sorted(set(inputs) - {"video", "audio", "audios", "speech"}):
        e.add("unsupportedParameter", f"inputs.{key}", f"'{key}' is not an input of Sync models")
    if not _nonempty_str(inputs.get("video")):
        e.add("missingParameter", "inputs.video", "inputs.video (a media UUID or URL) is required")
    audio_key = "audio" if "audio" in inputs else "audios"
    audio = inputs.get(audio_key)
    speech = inputs.get("speech")
    if not audio and not speech:
        e.add("missingParameter", "inputs.audio", "give inputs.audio or inputs.speech (or both)")
    ids: list[str] = []
    if audio is not None:
        if not isinstance(audio, list):
            e.add("invalidParameter", f"inputs.{audio_key}", "must be a list of {id, source}")
        else:
            for n, item in enumerate(audio):
                where = f"inputs.{audio_key}[{n}]"
                if not isinstance(item, dict) or set(item) - {"id", "source"}:
                    e.add("invalidParameter", where, "each audio input is an object with id and source")
                    continue
                if not _nonempty_str(item.get("source")):
                    e.add("missingParameter", f"{where}.source", "source (media UUID or URL) is required")
                if not _nonempty_str(item.get("id")):
                    e.add("missingParameter", f"{where}.id", "id is required")
                else:
                    ids.append(item["id"])
    if speech is not None:
        if not isinstance(speech, list):
            e.add("invalidParameter", "inputs.speech", "must be a list of {id, provider, text}")
        else:
            for n, item in enumerate(speech):
                where = f"inputs.speech[{n}]"
                if not isinstance(item, dict) or set(item) - {"id", "provider", "text"}:
                    e.add(
                        "invalidParameter", where, "each speech input is an object with id, provider and text"
                    )
                    continue
                provider = item.get("provider")
                if not (
                    isinstance(provider, dict)
                    and _nonempty_str(provider.get("name"))
                    and _nonempty_str(provider.get("voiceId"))
                    and not set(provider) - {"name", "voiceId"}
                ):
                    e.add("invalidParameter", f"{where}.provider", "provider must be {name, voiceId}")
                if not _nonempty_str(item.get("text")):
                    e.add("missingParameter", f"{where}.text", "text is required")
                if not _nonempty_str(item.get("id")):
                    e.add("missingParameter", f"{where}.id", "id is required")
                else:
                    ids.append(item["id"])
    seen: set[str] = set()
    for input_id in ids:
        if input_id in seen:
            e.add("invalidParameter", "inputs", f"input id {input_id!r} is used more than once")
        seen.add(input_id)
    return ids


def _check_settings(settings: Any, model: Any, ids: list[str], e: _Errors) -> None:
    if settings is None:
        return
    if not isinstance(settings, dict) or set(settings) - {"sync"}:
        e.add("invalidParameter", "providerSettings", "only providerSettings.sync applies to Sync models")
        return
    sync = settings.get("sync")
    if not isinstance(sync, dict):
        e.add("invalidParameter", "providerSettings.sync", "must be an object")
        return
    allowed = MODEL_SETTINGS.get(model, [])
    known = {*_COMMON, "segments", "editRegion", "emotionPrompt"}
    for key in sync:
        where = f"providerSettings.sync.{key}"
        if key not in known:
            e.add("unsupportedParameter", where, f"'{key}' is not a Sync setting", sorted(known))
        elif model in MODEL_SETTINGS and key not in allowed:
            e.add("unsupportedParameter", where, f"{model} does not accept '{key}'", allowed)
    _enum(sync, "syncMode", SYNC_MODES, e)
    _enum(sync, "editRegion", EDIT_REGIONS, e)
    _enum(sync, "emotionPrompt", EMOTIONS, e)
    temp = sync.get("temperature")
    if temp is not None and not (_is_number(temp) and 0 <= temp <= 1):
        e.add(
            "invalidParameter", "providerSettings.sync.temperature", f"temperature must be 0..1, not {temp!r}"
        )
    for flag in ("activeSpeakerDetection", "occlusionDetectionEnabled"):
        if flag in sync and not isinstance(sync[flag], bool):
            e.add("invalidParameter", f"providerSettings.sync.{flag}", f"{flag} must be true or false")
    if "segments" in sync:
        _check_segments(sync["segments"], ids, e)


def _enum(
    sync: dict[str, Any], key: str, allowed: list[str], e: _Errors, base: str = "providerSettings.sync"
) -> None:
    if key in sync and sync[key] not in allowed:
        e.add("invalidParameter", f"{base}.{key}", f"{key} {sync[key]!r} is not allowed", allowed)


def _check_segments(segments: Any, ids: list[str], e: _Errors) -> None:
    base = "providerSettings.sync.segments"
    if not isinstance(segments, list) or not segments:
        e.add("invalidParameter", base, "segments must be a non-empty list")
        return
    for n, seg in enumerate(segments):
        where = f"{base}[{n}]"
        if not isinstance(seg, dict):
            e.add("invalidParameter", where, "each segment is an object")
            continue
        for key in sorted(set(seg) - {"startTime", "endTime", "ref", "audioStartTime", "audioEndTime"}):
            e.add("unsupportedParameter", f"{where}.{key}", f"'{key}' is not a segment field")
        ref = seg.get("ref")
        if ref not in ids:
            e.add("invalidParameter", f"{where}.ref", f"ref {ref!r} matches no audio or speech id", ids)
    _check_segment_times(segments, e, base)


def _check_segment_times(segments: list[Any], e: _Errors, base: str) -> None:
    """startTime < endTime, audio times together and ordered, no two segments overlapping."""
    spans: list[tuple[float, float, int]] = []
    for n, seg in enumerate(segments):
        if not isinstance(seg, dict):
            continue
        where = f"{base}[{n}]"
        start: Any = seg.get("startTime")
        end: Any = seg.get("endTime")
        ok = True
        for key, value in (("startTime", start), ("endTime", end)):
            if not (_is_number(value) and value >= 0):
                e.add("invalidParameter", f"{where}.{key}", f"{key} must be a number of seconds >= 0")
                ok = False
        if ok and end <= start:
            e.add("invalidParameter", f"{where}.endTime", "endTime must be greater than startTime")
            ok = False
        if ok:
            spans.append((float(start), float(end), n))
        a_start: Any = seg.get("audioStartTime")
        a_end: Any = seg.get("audioEndTime")
        if (a_start is None) != (a_end is None):
            e.add(
                "invalidParameter", f"{where}.audioStartTime", "audioStartTime and audioEndTime go together"
            )
        elif a_start is not None:
            if not (_is_number(a_start) and a_start >= 0 and _is_number(a_end) and a_end >= 0):
                e.add("invalidParameter", f"{where}.audioStartTime", "audio times must be numbers >= 0")
            elif a_end <= a_start:
                e.add(
                    "invalidParameter",
                    f"{where}.audioEndTime",
                    "audioEndTime must be greater than audioStartTime",
                )
    spans.sort()
    for (s1, e1, i), (s2, _e2, j) in pairwise(spans):
        if s2 < e1:
            e.add("invalidParameter", base, f"segments {i} and {j} overlap ({s1}-{e1} s and from {s2} s)")
