"""sync-3's request: a top-level ``settings`` and ``speech`` instead of ``providerSettings.sync``.

What each field is, and where we read it, is in ``tests/fixtures/runware/models/sync-3.json``
and ``docs/protocol.md``. The rules Runware's page states (``runware.ai/docs/models/sync-3``,
"Compatibility & Validation") are enforced here, before any request is sent:

* exactly one of ``inputs.audio``, ``speech`` and ``settings.segments``;
* ``audioStartTime`` and ``audioEndTime`` of a segment only together;
* ``settings.activeSpeakerDetection``: ``boundingBoxes`` not with ``coordinates``, and
  ``coordinates`` only with ``frameNumber`` (and the other way round);
* ``settings.tts`` only with ``speech``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import (
    MAX_SEGMENTS,
    MAX_TEXT_CHARS,
    SYNC_MODELS,
    EditRegion,
    Identifier,
    Source,
    TaskEnvelope,
    TimedSegment,
    _finite,
    _lower,
    _no_bool,
    _none_if_blank,
    _WireModel,
    coerce_structure,
    short_repr,
    validate_wire,
)

#: sync-3's ``settings.syncMode`` values, as Runware's own sync-3 client offers them (ComfyUI-Runware
#: PR #126; ``loop``, which the older models take, is not among them).
Sync3Mode = Literal["bounce", "cut_off", "silence", "remap"]
#: Frames in ``boundingBoxes`` (one entry per frame of the video; ours: 20 minutes at 60 fps).
MAX_BOUNDING_BOXES = 72_000

Unit = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=1), AfterValidator(_finite)]
#: A pixel position, as Runware's client bounds it (integers 1 to 4096).
Pixel = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=4096)]
Corner = Annotated[float, BeforeValidator(_no_bool), Field(ge=0), AfterValidator(_finite)]


class ActiveSpeakerDetection(_WireModel):
    """``settings.activeSpeakerDetection``: which face to lip-sync."""

    auto_detect: bool | None = Field(default=None, alias="autoDetect")
    frame_number: Annotated[int, BeforeValidator(_no_bool), Field(ge=0)] | None = Field(
        default=None, alias="frameNumber"
    )
    coordinates: tuple[Pixel, Pixel] | None = None
    bounding_boxes: list[tuple[Corner, Corner, Corner, Corner] | None] | None = Field(
        default=None, alias="boundingBoxes", min_length=1, max_length=MAX_BOUNDING_BOXES
    )

    @model_validator(mode="after")
    def _page_rules(self) -> ActiveSpeakerDetection:
        where = "active_speaker_detection (settings.activeSpeakerDetection)"
        if self.bounding_boxes is not None and self.coordinates is not None:
            raise ValueError(f"{where}: give boundingBoxes or coordinates + frameNumber, not both")
        if (self.coordinates is None) != (self.frame_number is None):
            raise ValueError(f"{where}: coordinates and frameNumber must be given together")
        if self.auto_detect is None and self.coordinates is None and self.bounding_boxes is None:
            raise ValueError(f"{where}: give autoDetect, coordinates + frameNumber, or boundingBoxes")
        return self


class Sync3Segment(TimedSegment):
    """A video time range lip-synced to its own ``audio`` (a media UUID or URL)."""

    audio: Source


class Sync3Tts(_WireModel):
    """``settings.tts``: tuning of the voice made from ``speech``."""

    stability: Unit | None = None
    similarity_boost: Unit | None = Field(default=None, alias="similarityBoost")

    @model_validator(mode="after")
    def _not_empty(self) -> Sync3Tts:
        if self.stability is None and self.similarity_boost is None:
            raise ValueError("tts (settings.tts): give stability and/or similarity_boost (each 0 to 1)")
        return self


class Sync3Settings(_WireModel):
    """``settings``: how sync-3 lays the new audio over the video."""

    sync_mode: Sync3Mode | None = Field(default=None, alias="syncMode")
    temperature: Unit | None = None
    mode: EditRegion | None = None
    occlusion_detection: bool | None = Field(default=None, alias="occlusionDetection")
    active_speaker_detection: ActiveSpeakerDetection | None = Field(
        default=None, alias="activeSpeakerDetection"
    )
    segments: list[Sync3Segment] | None = Field(default=None, min_length=1, max_length=MAX_SEGMENTS)
    tts: Sync3Tts | None = None

    _normalise_enums = field_validator("sync_mode", "mode", mode="before")(lambda v: _lower(v))

    @field_validator("segments")
    @classmethod
    def _no_overlap(cls, segments: list[Sync3Segment] | None) -> list[Sync3Segment] | None:
        if segments:
            ordered = sorted(enumerate(segments), key=lambda item: item[1].start_time)
            for (i, a), (j, b) in pairwise(ordered):
                if b.start_time < a.end_time:
                    raise ValueError(
                        f"segment {i} [{a.start_time}-{a.end_time} s] and segment {j} "
                        f"[{b.start_time}-{b.end_time} s] overlap"
                    )
        return segments


class Sync3Speech(_WireModel):
    """The top-level ``speech``: a script and the voice that speaks it."""

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    voice: Identifier


class Sync3Inputs(_WireModel):
    """``inputs``: the video, and (unless speech or segments carry the audio) one audio source."""

    video: Source
    audio: Source | None = None


class Sync3Task(TaskEnvelope):
    """One ``videoInference`` task for sync-3, exactly as it is sent."""

    inputs: Sync3Inputs
    settings: Sync3Settings | None = None
    speech: Sync3Speech | None = None

    @model_validator(mode="after")
    def _page_rules(self) -> Sync3Task:
        spec = SYNC_MODELS.get(self.model)
        if spec is None or spec.shape != "settings":
            raise ValueError(f"model: {self.model!r} does not take sync-3's request (settings, speech)")
        given = [
            name
            for name, value in (
                ("audio (inputs.audio)", self.inputs.audio),
                ("speech (speech)", self.speech),
                ("segments (settings.segments)", self.settings.segments if self.settings else None),
            )
            if value is not None
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none of them"
            raise ValueError(
                f"audio (inputs.audio) / speech (speech) / segments (settings.segments): sync-3 takes "
                f"exactly one of them; given: {found}"
            )
        if self.settings is not None and self.settings.tts is not None and self.speech is None:
            raise ValueError("tts (settings.tts): needs speech (speech), the text it voices")
        return self


# --------------------------------------------------------------------------------------------
# From operator parameters
# --------------------------------------------------------------------------------------------

_ASD_KEYS = {"auto_detect": "autoDetect", "frame_number": "frameNumber", "bounding_boxes": "boundingBoxes"}
_SEGMENT_KEYS = {
    "start_time": "startTime",
    "end_time": "endTime",
    "audio_start_time": "audioStartTime",
    "audio_end_time": "audioEndTime",
}


def _camel(value: Any, keys: Mapping[str, str]) -> Any:
    if isinstance(value, Mapping):
        return {keys.get(k, k): v for k, v in value.items()}
    return value


def sync3_audio(audio: Any) -> Any:
    """sync-3's one audio source: a string, or a single ``{"source"}`` (a one-item list too).

    :raises SyncValidationError: for more than one audio input (sync-3 takes segments for that).
    """
    audio = _none_if_blank(coerce_structure(audio, "audio"))
    if isinstance(audio, Sequence) and not isinstance(audio, str):
        if len(audio) != 1:
            raise SyncValidationError(
                f"audio (inputs.audio): sync-3 takes one audio source, not {len(audio)}; to put several "
                "clips on the video, give segments with an audio each"
            )
        audio = audio[0]
    if isinstance(audio, Mapping) and "source" in audio:
        audio = audio["source"]
    return _none_if_blank(audio)


def sync3_speech(speech: Any) -> Any:
    """sync-3's speech: one ``{"text", "voice"}`` object (a one-item list is unwrapped).

    :raises SyncValidationError: for the older models' list-with-provider form, saying what changed.
    """
    speech = _none_if_blank(coerce_structure(speech, "speech"))
    if isinstance(speech, Sequence) and not isinstance(speech, str) and len(speech) == 1:
        speech = speech[0]
    if isinstance(speech, Mapping) and "provider" in speech:
        raise SyncValidationError(
            "speech (speech): sync-3 takes one {'text', 'voice'} object at the top level, not the "
            "{'id', 'provider': {'name', 'voiceId'}, 'text'} inputs of lipsync-2; "
            f"given {short_repr(dict(speech))}"
        )
    return speech


def sync3_active_speaker(value: Any) -> Any:
    """``active_speaker_detection`` for sync-3: an object, or ``True``/``False`` for autoDetect."""
    value = _none_if_blank(coerce_structure(value, "active_speaker_detection"))
    if isinstance(value, (bool, str)):
        from airflow_provider_sync.models import parse_flag

        return {"autoDetect": parse_flag(value, "active_speaker_detection")}
    return _camel(value, _ASD_KEYS)


def sync3_segments(segments: Any) -> Any:
    """Segment dicts with camelCase or snake_case keys; each names its own ``audio``."""
    segments = _none_if_blank(coerce_structure(segments, "segments"))
    if segments is None or not isinstance(segments, Sequence) or isinstance(segments, str):
        return segments
    for n, seg in enumerate(segments):
        if isinstance(seg, Mapping) and "ref" in seg and "audio" not in seg:
            raise SyncValidationError(
                f"segments.{n} (settings.segments.{n}): sync-3 segments carry their own 'audio' "
                "(a media UUID, URL or file), not a 'ref' to an audio input"
            )
    return [_camel(seg, _SEGMENT_KEYS) for seg in segments]


def build_sync3_task(
    envelope: dict[str, Any],
    *,
    video: Any,
    audio: Any,
    speech: Any,
    sync_mode: Any,
    temperature: Any,
    active_speaker_detection: Any,
    occlusion_detection: Any,
    segments: Any,
    mode: Any,
    tts: Any,
) -> Sync3Task:
    """The sync-3 task for operator parameters (``envelope``: the fields every model takes).

    :raises SyncValidationError: naming every problem and its field.
    """
    settings = {
        "syncMode": _none_if_blank(sync_mode),
        "temperature": _none_if_blank(temperature),
        "mode": _none_if_blank(mode),
        "occlusionDetection": _none_if_blank(occlusion_detection),
        "activeSpeakerDetection": sync3_active_speaker(active_speaker_detection),
        "segments": sync3_segments(segments),
        "tts": _camel(_none_if_blank(coerce_structure(tts, "tts")), {"similarity_boost": "similarityBoost"}),
    }
    settings = {k: v for k, v in settings.items() if v is not None}
    inputs = {"video": _none_if_blank(video), "audio": sync3_audio(audio)}
    raw: dict[str, Any] = {
        **envelope,
        "inputs": {k: v for k, v in inputs.items() if v is not None},
        "settings": settings or None,
        "speech": sync3_speech(speech),
    }
    return validate_wire(Sync3Task, {k: v for k, v in raw.items() if v is not None})


__all__ = [
    "ActiveSpeakerDetection",
    "Sync3Inputs",
    "Sync3Segment",
    "Sync3Settings",
    "Sync3Speech",
    "Sync3Task",
    "Sync3Tts",
    "build_sync3_task",
]
