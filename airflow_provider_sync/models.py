"""Request models for Sync ``videoInference`` tasks, and the table of what each model accepts.

The models mirror Runware's wire format (camelCase aliases) but are populated from the
operators' snake_case parameters. Validation here is the single gate every request passes
before it leaves the process; its errors name both the operator parameter and the API field.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.url_checks import MAX_CALLBACK_URL_CHARS, check_callback_url  # noqa: F401

SyncMode = Literal["bounce", "loop", "cut_off", "silence", "remap"]
EditRegion = Literal["lips", "face", "head"]
EmotionPrompt = Literal["happy", "sad", "angry", "disgusted", "surprised", "neutral"]
OutputFormat = Literal["MP4", "WEBM", "MOV"]

_T = TypeVar("_T", bound=BaseModel)

SYNC_MODES: tuple[str, ...] = get_args(SyncMode)
EDIT_REGIONS: tuple[str, ...] = get_args(EditRegion)
EMOTION_PROMPTS: tuple[str, ...] = get_args(EmotionPrompt)
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)

# Size caps. Runware publishes none; these are far above any real request, and keep a value
# from a template (or a mistake) from building a request that fails only at Runware.
#: Characters in an audio or speech ``id``, a voice provider name or voice id.
MAX_ID_CHARS = 128
#: Characters of one speech ``text``.
MAX_TEXT_CHARS = 20_000
#: Characters of a ``video``/``source`` that is a media UUID, URL or path (data URIs are not capped
#: here: their size is bounded by what Runware accepts in one request).
MAX_SOURCE_CHARS = 8_192
#: Items in ``audio``, and in ``speech``.
MAX_INPUTS = 100
#: Items in ``segments``.
MAX_SEGMENTS = 100
#: Levels of nesting accepted in a structured parameter (``segments`` needs 3).
MAX_NESTING = 16
#: Upper bound of the timing parameters (``poll_interval``, ``timeout``, ``expected_render_time``).
MAX_SECONDS = 30 * 24 * 3600.0

_COMMON_SETTINGS = frozenset(
    {"syncMode", "temperature", "activeSpeakerDetection", "occlusionDetectionEnabled"}
)
#: Operator parameters every model takes (the request's envelope and its inputs).
_COMMON_PARAMS = frozenset(
    {
        "model",
        "video",
        "audio",
        "speech",
        "output_format",
        "output_quality",
        "include_cost",
        "webhook_url",
        "upload_endpoint",
        "ttl",
        "safety",
    }
)
_SETTING_PARAMS = frozenset(
    {"sync_mode", "temperature", "active_speaker_detection", "occlusion_detection_enabled"}
)
#: Why an operator parameter is refused by a model that does not take it.
_NOT_FOR: dict[str, str] = {
    "segments": "Runware lists segments for react-1 as 'coming soon'",
    "edit_region": "only react-1 (editRegion) and sync-3 (settings.mode) take it",
    "emotion_prompt": "only react-1 takes it",
    "tts": "only sync-3 takes it (settings.tts)",
}

#: Where a model's request settings go: lipsync-2, lipsync-2-pro and react-1 read
#: ``providerSettings.sync``; sync-3 reads a top-level ``settings`` (and a top-level ``speech``).
RequestShape = Literal["providerSettings", "settings"]


@dataclass(frozen=True)
class SyncModel:
    """One Sync model as Runware exposes it.

    :param air_id: Runware's model identifier, sent as ``model``.
    :param short_name: the name users may write instead of ``air_id``.
    :param settings: the wire keys of the model's settings object.
    :param unsupported_reasons: why a known setting is refused, for error messages.
    :param shape: where the settings go (see :data:`RequestShape`).
    :param params: the operator parameters the model takes.
    :param aliases: other AIR ids Runware's registries have listed for it; accepted, and sent
        as :attr:`air_id`.
    :param page: Runware's page for the model (its request parameters and price).
    """

    air_id: str
    short_name: str
    settings: frozenset[str]
    unsupported_reasons: Mapping[str, str]
    shape: RequestShape = "providerSettings"
    params: frozenset[str] = _COMMON_PARAMS
    aliases: tuple[str, ...] = ()
    page: str = ""

    def refusal(self, param: str) -> str:
        """Why :attr:`short_name` does not take the operator parameter ``param``."""
        return _NOT_FOR.get(param, "not a parameter of this model")


_LIPSYNC_REFUSED = {"editRegion": "only react-1 accepts it", "emotionPrompt": "only react-1 accepts it"}
#: Which settings each model accepts. Add new models here.
SYNC_MODELS: dict[str, SyncModel] = {
    m.air_id: m
    for m in (
        SyncModel(
            "sync:lipsync-2@1",
            "lipsync-2",
            _COMMON_SETTINGS | {"segments"},
            _LIPSYNC_REFUSED,
            params=_COMMON_PARAMS | _SETTING_PARAMS | {"segments"},
            page="https://runware.ai/docs/models/sync-lipsync-2",
        ),
        SyncModel(
            "sync:lipsync-2-pro@1",
            "lipsync-2-pro",
            _COMMON_SETTINGS | {"segments"},
            _LIPSYNC_REFUSED,
            params=_COMMON_PARAMS | _SETTING_PARAMS | {"segments"},
            page="https://runware.ai/docs/models/sync-lipsync-2-pro",
        ),
        SyncModel(
            "sync:react-1@1",
            "react-1",
            _COMMON_SETTINGS | {"editRegion", "emotionPrompt"},
            {"segments": "Runware lists segments for react-1 as 'coming soon'"},
            params=_COMMON_PARAMS | _SETTING_PARAMS | {"edit_region", "emotion_prompt"},
            page="https://runware.ai/docs/models/sync-react-1",
        ),
        SyncModel(
            "sync:3@0",
            "sync-3",
            frozenset(
                {"syncMode", "temperature", "mode", "occlusionDetection", "activeSpeakerDetection"}
                | {"segments", "tts"}
            ),
            {"editRegion": "sync-3 calls it settings.mode", "emotionPrompt": "only react-1 accepts it"},
            shape="settings",
            params=_COMMON_PARAMS | _SETTING_PARAMS | {"segments", "edit_region", "tts"},
            # Runware's client registries of June-July 2026 (runware-python 1.4.0,
            # runware-typescript 1.6.8) list sync-3 as sync:lipsync@3; its page and runware-sdk
            # 1.8.0 (October 2026) as sync:3@0.
            aliases=("sync:lipsync@3",),
            page="https://runware.ai/docs/models/sync-3",
        ),
    )
}
_BY_SHORT_NAME = {m.short_name: m for m in SYNC_MODELS.values()}
_BY_ALIAS = {alias: m for m in SYNC_MODELS.values() for alias in m.aliases}

#: API field path -> operator parameter, so errors speak the user's language too.
PARAMETER_NAMES: dict[str, str] = {
    "model": "model",
    "inputs.video": "video",
    "inputs.audio": "audio",
    "inputs.speech": "speech",
    "providerSettings.sync.syncMode": "sync_mode",
    "providerSettings.sync.temperature": "temperature",
    "providerSettings.sync.activeSpeakerDetection": "active_speaker_detection",
    "providerSettings.sync.occlusionDetectionEnabled": "occlusion_detection_enabled",
    "providerSettings.sync.segments": "segments",
    "providerSettings.sync.editRegion": "edit_region",
    "providerSettings.sync.emotionPrompt": "emotion_prompt",
    # sync-3: a top-level settings object and a top-level speech.
    "settings.syncMode": "sync_mode",
    "settings.temperature": "temperature",
    "settings.mode": "edit_region",
    "settings.occlusionDetection": "occlusion_detection_enabled",
    "settings.activeSpeakerDetection": "active_speaker_detection",
    "settings.segments": "segments",
    "settings.tts": "tts",
    "speech": "speech",
    "outputFormat": "output_format",
    "outputQuality": "output_quality",
    "includeCost": "include_cost",
    "webhookURL": "webhook_url",
    "uploadEndpoint": "upload_endpoint",
    "ttl": "ttl",
    "safety": "safety",
}


def resolve_model(name: str, allowed: Sequence[str] | None = None) -> SyncModel:
    """Return the model for an AIR id (``sync:lipsync-2@1``) or a short name (``lipsync-2``).

    :param allowed: AIR ids the caller accepts (an operator accepts only its own models).
    :raises SyncValidationError: for an unknown or disallowed model, listing the allowed ones.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    model = (SYNC_MODELS.get(key) or _BY_SHORT_NAME.get(key) or _BY_ALIAS.get(key)) if key else None
    permitted = [SYNC_MODELS[a] for a in (allowed or SYNC_MODELS)]
    if model is None or model not in permitted:
        names = ", ".join(f"{m.short_name} ({m.air_id})" for m in permitted)
        raise SyncValidationError(f"model: {name!r} is not allowed here; allowed values: {names}")
    return model


class _WireModel(BaseModel):
    """Base for wire objects: camelCase on the wire, snake_case in Python, nothing unknown."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True, frozen=True)


def _no_bool(value: Any) -> Any:
    # pydantic reads True as 1 for numbers; a boolean where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a number")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return value


def _source(value: str) -> str:
    if not value.lower().startswith("data:") and len(value) > MAX_SOURCE_CHARS:
        raise ValueError(f"{len(value)} characters, more than the {MAX_SOURCE_CHARS} accepted")
    return value


NonEmptyStr = Annotated[str, Field(min_length=1)]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
Source = Annotated[str, Field(min_length=1), AfterValidator(_source)]
# Whole seconds stay ints on the wire (a user's ``5`` is sent as ``5``, not ``5.0``).
Seconds = Annotated[int | float, BeforeValidator(_no_bool), Field(ge=0), AfterValidator(_finite)]


class AudioInput(_WireModel):
    """An audio file for the dub: ``source`` is a Runware media UUID or a URL."""

    id: Identifier
    source: Source


class SpeechProvider(_WireModel):
    """The text-to-speech voice Runware should use."""

    name: Identifier
    voice_id: Identifier = Field(alias="voiceId")


class SpeechInput(_WireModel):
    """Text that Runware turns into speech before lip-syncing."""

    id: Identifier
    provider: SpeechProvider
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class TimedSegment(_WireModel):
    """A video time range, and optionally the part of its audio to use there.

    The timing rules every Sync model states for its segments: ``endTime`` after
    ``startTime``; ``audioStartTime`` and ``audioEndTime`` together or not at all, the end
    after the start.
    """

    start_time: Seconds = Field(alias="startTime")
    end_time: Seconds = Field(alias="endTime")
    audio_start_time: Seconds | None = Field(default=None, alias="audioStartTime")
    audio_end_time: Seconds | None = Field(default=None, alias="audioEndTime")

    @model_validator(mode="after")
    def _check_times(self) -> Self:
        if self.end_time <= self.start_time:
            raise ValueError(f"endTime ({self.end_time}) must be greater than startTime ({self.start_time})")
        if (self.audio_start_time is None) != (self.audio_end_time is None):
            raise ValueError("audioStartTime and audioEndTime must be given together, or neither")
        if (
            self.audio_start_time is not None
            and self.audio_end_time is not None
            and self.audio_end_time <= self.audio_start_time
        ):
            raise ValueError(
                f"audioEndTime ({self.audio_end_time}) must be greater than "
                f"audioStartTime ({self.audio_start_time})"
            )
        return self


class Segment(TimedSegment):
    """A video time range that gets the audio (or speech) input ``ref``."""

    ref: NonEmptyStr


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class SyncSettings(_WireModel):
    """``providerSettings.sync``: how Sync lays the audio over the video."""

    sync_mode: SyncMode | None = Field(default=None, alias="syncMode")
    temperature: Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=1)] | None = None
    active_speaker_detection: bool | None = Field(default=None, alias="activeSpeakerDetection")
    occlusion_detection_enabled: bool | None = Field(default=None, alias="occlusionDetectionEnabled")
    # Given, it must hold a segment: an empty list is refused by Runware, not "no segments".
    segments: list[Segment] | None = Field(default=None, min_length=1, max_length=MAX_SEGMENTS)
    edit_region: EditRegion | None = Field(default=None, alias="editRegion")
    emotion_prompt: EmotionPrompt | None = Field(default=None, alias="emotionPrompt")

    _normalise_enums = field_validator("sync_mode", "edit_region", "emotion_prompt", mode="before")(
        lambda v: _lower(v)
    )

    @field_validator("segments")
    @classmethod
    def _no_overlap(cls, segments: list[Segment] | None) -> list[Segment] | None:
        if segments:
            ordered = sorted(enumerate(segments), key=lambda item: item[1].start_time)
            for (i, a), (j, b) in pairwise(ordered):
                if b.start_time < a.end_time:
                    raise ValueError(
                        f"segment {i} [{a.start_time}-{a.end_time} s] and segment {j} "
                        f"[{b.start_time}-{b.end_time} s] overlap"
                    )
        return segments


class VideoInputs(_WireModel):
    """``inputs``: the video to edit and the new audio, as files and/or speech."""

    video: Source
    audio: list[AudioInput] | None = Field(default=None, max_length=MAX_INPUTS)
    speech: list[SpeechInput] | None = Field(default=None, max_length=MAX_INPUTS)

    @model_validator(mode="after")
    def _check_sources(self) -> VideoInputs:
        if not self.audio and not self.speech:
            raise ValueError("audio / speech (inputs.audio, inputs.speech): give at least one of them")
        ids = [i.id for i in (self.audio or [])] + [s.id for s in (self.speech or [])]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                "audio / speech (inputs.audio, inputs.speech): ids must be unique across both lists; "
                f"repeated: {', '.join(dupes)}"
            )
        return self

    def input_ids(self) -> list[str]:
        """Ids of every audio and speech input, in order."""
        return [i.id for i in (self.audio or [])] + [s.id for s in (self.speech or [])]


class ProviderSettings(_WireModel):
    """``providerSettings``: only the ``sync`` block is meaningful for Sync models."""

    sync: SyncSettings = Field(default_factory=SyncSettings)


class Safety(_WireModel):
    """``safety``: Runware's content check of the output (runware-typescript's declared type)."""

    check_content: bool | None = Field(default=None, alias="checkContent")
    mode: Literal["none", "fast", "full"] | None = None

    _normalise_mode = field_validator("mode", mode="before")(lambda v: _lower(v))

    @model_validator(mode="after")
    def _not_empty(self) -> Safety:
        if self.check_content is None and self.mode is None:
            raise ValueError("safety: give check_content (checkContent) and/or mode (none, fast, full)")
        return self


def _output_format(value: Any) -> Any:
    # Templates render an unset param as "None" or "": Runware's default. " webm" is "WEBM".
    value = _none_if_blank(value)
    return value.strip().upper() if isinstance(value, str) else value


class TaskEnvelope(_WireModel):
    """What every Sync ``videoInference`` task carries besides its inputs and settings."""

    task_type: Literal["videoInference"] = Field(default="videoInference", alias="taskType")
    task_uuid: str | None = Field(default=None, alias="taskUUID")
    model: str
    output_type: Literal["URL"] | None = Field(default=None, alias="outputType")
    output_format: Annotated[OutputFormat | None, BeforeValidator(_output_format)] = Field(
        default=None, alias="outputFormat"
    )
    output_quality: Annotated[int, BeforeValidator(_no_bool)] | None = Field(
        default=None, alias="outputQuality", ge=20, le=99
    )
    delivery_method: Literal["async"] = Field(default="async", alias="deliveryMethod")
    # Lax on purpose: a template renders False as the string "False", which must mean False.
    include_cost: bool | None = Field(default=None, alias="includeCost")
    webhook_url: str | None = Field(default=None, alias="webhookURL")
    upload_endpoint: str | None = Field(default=None, alias="uploadEndpoint")
    #: Seconds Runware keeps the result at its URL (runware-typescript: "Time-to-live (TTL) in
    #: seconds for generated content"). Runware publishes no bounds; ours are 1 s to 30 days.
    ttl: Annotated[int, BeforeValidator(_no_bool)] | None = Field(default=None, ge=1, le=30 * 24 * 3600)
    safety: Safety | None = None

    @field_validator("webhook_url", "upload_endpoint", mode="after")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        # Runware calls these URLs with the job's result (webhookURL) or PUTs the video there
        # (uploadEndpoint): https only, or plain http to this machine (an emulator, tests).
        if value is None:
            return value
        return check_callback_url(value)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object to send: camelCase keys, unset fields left out.

        :raises SyncValidationError: if it would not serialise as strict JSON (checked here,
            before any upload, rather than when the request is sent).
        """
        payload = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        try:
            json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SyncValidationError(f"request: cannot be sent as JSON ({exc})") from None
        return payload


class VideoInferenceTask(TaskEnvelope):
    """One ``videoInference`` task for lipsync-2, lipsync-2-pro or react-1, exactly as it is sent."""

    inputs: VideoInputs
    provider_settings: ProviderSettings | None = Field(default=None, alias="providerSettings")

    @model_validator(mode="after")
    def _check_model_settings(self) -> VideoInferenceTask:
        model = SYNC_MODELS.get(self.model)
        if model is None:
            raise ValueError(f"unknown model {self.model!r}; allowed values: {', '.join(SYNC_MODELS)}")
        if model.shape != "providerSettings":
            raise ValueError(
                f"model ({self.model}) takes a top-level settings object, not providerSettings.sync; "
                "build its request with build_video_inference"
            )
        sync = self.provider_settings.sync if self.provider_settings else SyncSettings()
        for key in sync.model_dump(by_alias=True, exclude_none=True):
            if key not in model.settings:
                reason = model.unsupported_reasons.get(key, "not supported")
                raise ValueError(
                    f"{PARAMETER_NAMES['providerSettings.sync.' + key]} (providerSettings.sync.{key}) "
                    f"is not accepted by {model.air_id} ({reason}); "
                    f"{model.short_name} accepts: {', '.join(sorted(model.settings))}"
                )
        ids = self.inputs.input_ids()
        for i, seg in enumerate(sync.segments or []):
            if seg.ref not in ids:
                raise ValueError(
                    f"segments.{i}.ref (providerSettings.sync.segments.{i}.ref): {seg.ref!r} matches "
                    f"no audio or speech input id; known ids: {', '.join(ids)}"
                )
        return self


# --------------------------------------------------------------------------------------------
# From operator parameters to a validated task
# --------------------------------------------------------------------------------------------


def coerce_structure(value: Any, name: str = "value") -> Any:
    """Turn a rendered template string that holds a list or dict back into one.

    Jinja renders to strings unless the DAG sets ``render_template_as_native_obj``; users then
    get ``"[{'id': 'a', ...}]"`` where a list was meant. JSON and Python literals are accepted.

    :param name: the parameter, for error messages.
    :raises SyncValidationError: for structures nested deeper than :data:`MAX_NESTING` (a
        template value must not be able to exhaust the parser's recursion).
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            if _bracket_depth(text) > MAX_NESTING:
                raise _too_deep(name)
            for parse in (json.loads, ast.literal_eval):
                try:
                    return parse(text)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
    check_nesting(value, name)
    return value


def _bracket_depth(text: str) -> int:
    """Deepest bracket nesting in ``text``, outside quoted strings (an upper bound is enough)."""
    depth = deepest = 0
    quote = ""
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]})":
            depth -= 1
    return deepest


def check_nesting(value: Any, name: str = "value", limit: int = MAX_NESTING) -> None:
    """Refuse lists and dicts nested deeper than ``limit``, without recursing.

    :raises SyncValidationError: naming ``name``.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth >= limit:
            raise _too_deep(name)
        stack.extend((child, depth + 1) for child in children)


def _too_deep(name: str) -> SyncValidationError:
    return SyncValidationError(
        f"{name}: nested more than {MAX_NESTING} levels deep; a list of objects needs 2 or 3"
    )


def _none_if_blank(value: Any) -> Any:
    # Jinja renders an unset param as "None" (or "" / "null"): that means "not set".
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
        return None
    return value


def normalise_audio(audio: Any) -> Any:
    """Accept a list of ``{id, source}``, one dict, or one source string (id ``audio-1``)."""
    audio = _none_if_blank(coerce_structure(audio, "audio"))
    if audio is None:
        return None
    if isinstance(audio, str):
        return [{"id": "audio-1", "source": audio}]
    if isinstance(audio, Mapping):
        return [dict(audio)]
    if isinstance(audio, Sequence):
        return [
            {"id": f"audio-{n}", "source": item} if isinstance(item, str) else item
            for n, item in enumerate(audio, start=1)
        ]
    return audio


def normalise_speech(speech: Any) -> Any:
    """Accept a list of speech inputs or a single one; ``voice_id`` is accepted for ``voiceId``."""
    speech = _none_if_blank(coerce_structure(speech, "speech"))
    if speech is None:
        return None
    items = [speech] if isinstance(speech, Mapping) else speech
    if not isinstance(items, Sequence) or isinstance(items, str):
        return items
    out: list[Any] = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("provider"), Mapping):
            provider = dict(item["provider"])
            if "voice_id" in provider and "voiceId" not in provider:
                provider["voiceId"] = provider.pop("voice_id")
            item = {**item, "provider": provider}
        out.append(item)
    return out


_SEGMENT_KEYS = {
    "start_time": "startTime",
    "end_time": "endTime",
    "audio_start_time": "audioStartTime",
    "audio_end_time": "audioEndTime",
}


def normalise_segments(segments: Any) -> Any:
    """Accept segment dicts with either the API's camelCase or snake_case keys."""
    segments = _none_if_blank(coerce_structure(segments, "segments"))
    if segments is None or not isinstance(segments, Sequence) or isinstance(segments, str):
        return segments
    return [
        {_SEGMENT_KEYS.get(k, k): v for k, v in seg.items()} if isinstance(seg, Mapping) else seg
        for seg in segments
    ]


def _describe_location(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(p) for p in loc if p not in ("function-after", "function-before"))
    # Pydantic puts union/literal branch names in the location; they mean nothing to users.
    path = path.replace(".list[...]", "")
    param = None
    for api_path, name in PARAMETER_NAMES.items():
        if path == api_path or path.startswith(api_path + "."):
            param = name + path[len(api_path) :]
            break
    return f"{param} ({path})" if param and path else (path or "request")


#: A message that starts with the operator parameter it is about, e.g. ``sync_mode (...)`` or
#: ``audio / speech (...)`` (not ``endTime (1) must ...``, which names only a value's key).
_NAMED = re.compile(r"[a-z_][a-z0-9_.]*(?: / [a-z_]+)? \(")


def format_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into one line per problem, naming the field and what is allowed."""
    lines = []
    for err in exc.errors(include_url=False):
        where = _describe_location(tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            message = f"{short_repr(err['input'])} is not allowed; allowed values: {expected}"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        elif "input" in err and err["type"] not in ("value_error", "missing", "assertion_error"):
            message = f"{short_repr(err['input'])}: {message}"
        # Model-level checks already name their fields; pydantic gives them the parent's location.
        named = err["type"] == "value_error" and _NAMED.match(message) is not None
        lines.append(message if named or not err["loc"] else f"{where}: {message}")
    return lines


def short_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about user values."""
    try:
        text = repr(value)
    except RecursionError:  # a native value nested past the interpreter's limit
        return "<nested too deeply>"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_flag(value: Any, name: str) -> bool:
    """A yes/no parameter that may be a template: ``"False"`` (as Jinja renders it) means False.

    :raises SyncValidationError: for anything but a boolean or true/false, yes/no, on/off, 1/0.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SyncValidationError(f"{name}: {short_repr(value)} is not true or false")


def parse_seconds(value: Any, name: str, maximum: float = MAX_SECONDS) -> float:
    """A duration parameter as seconds: a number, a numeric string or a ``timedelta``.

    :raises SyncValidationError: unless it is finite, greater than 0 and at most ``maximum``
        (whatever its type: ``timedelta(0)``, ``"nan"``, ``"-5"`` and ``True`` are refused).
    """
    if isinstance(value, bool):
        raise SyncValidationError(f"{name}: {value!r} is a boolean, not a number of seconds")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            raise SyncValidationError(f"{name}: {short_repr(value)} is not a number of seconds") from None
    if not math.isfinite(seconds):
        raise SyncValidationError(f"{name}: {short_repr(value)} is not a finite number of seconds")
    if seconds <= 0:
        raise SyncValidationError(f"{name}: {short_repr(value)} must be greater than 0 seconds")
    if seconds > maximum:
        raise SyncValidationError(f"{name}: {short_repr(value)} exceeds the maximum of {maximum:g} seconds")
    return seconds


def normalise_output_format(value: Any, name: str = "output_format") -> str | None:
    """``output_format`` as it is sent: ``MP4``, ``WEBM``, ``MOV``, or ``None`` for Runware's default.

    A template rendering an empty param gives ``"None"`` or ``""`` (Runware's default, ``MP4``);
    surrounding spaces and case do not matter.

    :raises SyncValidationError: for anything else, listing the allowed values.
    """
    value = _output_format(value)
    if value is None:
        return None
    if value not in OUTPUT_FORMATS:
        raise SyncValidationError(
            f"{name} (outputFormat): {short_repr(value)} is not allowed; allowed values: "
            "'MP4', 'WEBM' or 'MOV' (empty means Runware's default, MP4)"
        )
    return str(value)


#: The API fields of the model-specific operator parameters, for errors that refuse them.
_WIRE_NAMES = {
    "segments": "segments",
    "edit_region": "editRegion / settings.mode",
    "emotion_prompt": "emotionPrompt",
    "tts": "settings.tts",
}


def _refuse_other_models_params(spec: SyncModel, given: Mapping[str, Any]) -> None:
    for name, value in given.items():
        if name not in spec.params and _none_if_blank(value) is not None:
            raise SyncValidationError(
                f"{name} ({_WIRE_NAMES[name]}): not accepted by {spec.short_name} ({spec.air_id}): "
                f"{spec.refusal(name)}; "
                f"{spec.short_name} takes: {', '.join(sorted(spec.params - _COMMON_PARAMS))}"
            )


def build_video_inference(
    *,
    model: str,
    video: Any,
    audio: Any = None,
    speech: Any = None,
    sync_mode: Any = None,
    temperature: Any = None,
    active_speaker_detection: Any = None,
    occlusion_detection_enabled: Any = None,
    segments: Any = None,
    edit_region: Any = None,
    emotion_prompt: Any = None,
    tts: Any = None,
    output_format: Any = None,
    output_quality: Any = None,
    include_cost: bool | None = True,
    webhook_url: str | None = None,
    upload_endpoint: str | None = None,
    ttl: Any = None,
    safety: Any = None,
    task_uuid: str | None = None,
    allowed_models: Sequence[str] | None = None,
) -> TaskEnvelope:
    """Validate operator-style parameters and return the task to send.

    Parameters left as ``None`` are not sent, so Runware's defaults apply. A parameter the
    chosen model does not take is refused, naming the model.

    :raises SyncValidationError: listing every problem, each naming its field.
    """
    spec = resolve_model(model, allowed_models)
    check_nesting(video, "video")
    _refuse_other_models_params(
        spec,
        {
            "segments": segments,
            "edit_region": edit_region,
            "emotion_prompt": emotion_prompt,
            "tts": tts,
        },
    )
    # Checked apart from the rest, but reported with it: the error lists every problem.
    problems: list[str] = []
    try:
        output_format = normalise_output_format(output_format)
    except SyncValidationError as exc:
        problems += exc.problems
        output_format = None
    envelope: dict[str, Any] = {
        "taskUUID": task_uuid,
        "model": spec.air_id,
        "outputFormat": output_format,
        "outputQuality": _none_if_blank(output_quality),
        "includeCost": include_cost,
        "webhookURL": _none_if_blank(webhook_url),
        "uploadEndpoint": _none_if_blank(upload_endpoint),
        "ttl": _none_if_blank(ttl),
        "safety": normalise_safety(safety),
    }
    try:
        task = _build_task(
            spec,
            envelope,
            video=video,
            audio=audio,
            speech=speech,
            sync_mode=sync_mode,
            temperature=temperature,
            active_speaker_detection=active_speaker_detection,
            occlusion_detection_enabled=occlusion_detection_enabled,
            segments=segments,
            edit_region=edit_region,
            emotion_prompt=emotion_prompt,
            tts=tts,
        )
    except SyncValidationError as exc:
        raise SyncValidationError(problems + exc.problems) from None
    if problems:
        raise SyncValidationError(problems)
    return task


def _build_task(
    spec: SyncModel,
    envelope: dict[str, Any],
    *,
    video: Any,
    audio: Any,
    speech: Any,
    sync_mode: Any,
    temperature: Any,
    active_speaker_detection: Any,
    occlusion_detection_enabled: Any,
    segments: Any,
    edit_region: Any,
    emotion_prompt: Any,
    tts: Any,
) -> TaskEnvelope:
    """The task of :func:`build_video_inference` in the model's shape, validated."""
    if spec.shape == "settings":
        from airflow_provider_sync.sync3 import build_sync3_task

        return build_sync3_task(
            envelope,
            video=video,
            audio=audio,
            speech=speech,
            sync_mode=sync_mode,
            temperature=temperature,
            active_speaker_detection=active_speaker_detection,
            occlusion_detection=occlusion_detection_enabled,
            segments=segments,
            mode=edit_region,
            tts=tts,
        )
    sync = {
        "syncMode": _none_if_blank(sync_mode),
        "temperature": _none_if_blank(temperature),
        "activeSpeakerDetection": _none_if_blank(active_speaker_detection),
        "occlusionDetectionEnabled": _none_if_blank(occlusion_detection_enabled),
        "segments": normalise_segments(segments),
        "editRegion": _none_if_blank(edit_region),
        "emotionPrompt": _none_if_blank(emotion_prompt),
    }
    sync = {k: v for k, v in sync.items() if v is not None}
    raw: dict[str, Any] = {
        **envelope,
        "inputs": {
            k: v
            for k, v in {
                "video": _none_if_blank(video),
                "audio": normalise_audio(audio),
                "speech": normalise_speech(speech),
            }.items()
            if v is not None
        },
        "providerSettings": {"sync": sync} if sync else None,
    }
    return validate_wire(VideoInferenceTask, {k: v for k, v in raw.items() if v is not None})


def normalise_safety(safety: Any) -> Any:
    """Accept ``safety`` with snake_case (``check_content``) or Runware's camelCase keys."""
    safety = _none_if_blank(coerce_structure(safety, "safety"))
    if isinstance(safety, Mapping):
        return {("checkContent" if k == "check_content" else k): v for k, v in safety.items()}
    return safety


def validate_wire(cls: type[_T], raw: dict[str, Any]) -> _T:
    """``cls.model_validate(raw)``, with pydantic's errors turned into one SyncValidationError.

    :raises SyncValidationError: one line per problem, naming the field and what is allowed.
    """
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise SyncValidationError(format_validation_error(exc)) from None


def validate_payload(task: dict[str, Any]) -> TaskEnvelope:
    """Check a finished request (after presigning or uploads) against its model's rules.

    :raises SyncValidationError: naming every problem.
    """
    spec = SYNC_MODELS.get(str(task.get("model")))
    if spec is not None and spec.shape == "settings":
        from airflow_provider_sync.sync3 import Sync3Task

        return validate_wire(Sync3Task, task)
    return validate_wire(VideoInferenceTask, task)


__all__ = [
    "EDIT_REGIONS",
    "EMOTION_PROMPTS",
    "OUTPUT_FORMATS",
    "SYNC_MODELS",
    "SYNC_MODES",
    "AudioInput",
    "Safety",
    "Segment",
    "SpeechInput",
    "SpeechProvider",
    "SyncModel",
    "SyncSettings",
    "TaskEnvelope",
    "VideoInferenceTask",
    "VideoInputs",
    "build_video_inference",
    "check_nesting",
    "coerce_structure",
    "normalise_output_format",
    "parse_flag",
    "parse_seconds",
    "resolve_model",
    "short_repr",
    "validate_payload",
]
