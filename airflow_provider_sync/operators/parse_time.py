"""What a Sync operator can check when its DAG file is parsed, and what must wait for a run.

A literal typo (``sync_mode="remapp"``) should be a DAG import error, not a failed task an
hour later. Values only known at run time (Jinja templates, XCom arguments, ``expand()``
arguments) are replaced by harmless stand-ins so the literal ones around them can still be
checked. The same distinction decides which paths are *trusted* (written in the DAG file)
and which are held to the allowed media roots (they may come from ``dag_run.conf``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_sync.models import coerce_structure
from airflow_provider_sync.paths import TemplatedPaths

#: Parameters that widen what a task may do on the worker's disk: never taken from expand().
TRUSTED_ONLY = ("allowed_media_roots", "overwrite")


def is_unresolved(value: Any) -> bool:
    """True for values only known at run time: Jinja strings, XComArgs, mapped arguments."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_unresolved(k) or is_unresolved(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_unresolved(v) for v in value)
    return not isinstance(value, (int, float, bool, type(None), timedelta))


def mapped_partial_kwargs(op: Any) -> Mapping[str, Any] | None:
    """For a task unmapped from ``partial(...).expand(...)``: the literal ``partial`` arguments.

    ``None`` for an ordinary task. The expanded arguments are run-time values (often built
    from ``dag_run.conf`` upstream); only ``partial`` ones are written in the DAG file.
    """
    if not getattr(op, "_BaseOperator__from_mapped", False):
        return None
    dag = getattr(op, "_dag", None)
    mapped = dag.task_dict.get(op.task_id) if dag is not None else None
    partial = getattr(mapped, "partial_kwargs", None)
    return partial if isinstance(partial, Mapping) else {}


def path_origins(op: Any, partial: Mapping[str, Any] | None) -> TemplatedPaths:
    """Which of ``video``, ``audio`` and ``output_path`` hold run-time values (checked at init)."""

    def expanded(name: str) -> bool:
        # expand() may not repeat a partial() argument, so an equal value came from partial().
        return partial is not None and (name not in partial or partial[name] != getattr(op, name))

    audio: bool | tuple[bool, ...]
    if expanded("audio"):
        audio = True
    elif isinstance(op.audio, (list, tuple)):
        # Per item, so a literal file next to a templated one stays trusted.
        audio = tuple(
            is_unresolved(item.get("source") if isinstance(item, Mapping) else item) for item in op.audio
        )
    else:
        audio = is_unresolved(op.audio)
    return TemplatedPaths(
        video=expanded("video") or is_unresolved(op.video),
        audio=audio,
        output_path=expanded("output_path") or is_unresolved(op.output_path),
        segments=expanded("segments") or is_unresolved(op.segments),
    )


def _stand_in_model(params: dict[str, Any], unresolved: set[str], allowed: Sequence[str]) -> str:
    """For a templated ``model``: the first allowed model that takes every literal parameter."""
    from airflow_provider_sync.models import SYNC_MODELS

    given = {k for k, v in params.items() if k not in unresolved and v not in (None, "")}
    for air_id in allowed:
        if given <= SYNC_MODELS[air_id].params:
            return air_id
    return allowed[0]


def _sync3_stand_ins(out: dict[str, Any], unresolved: set[str]) -> dict[str, Any]:
    """sync-3 takes exactly one of audio, speech and segments: when any of them is only known
    at run time, the check waits for the run and the literal ones are checked with a stand-in."""
    sources = ("audio", "speech", "segments")
    if not unresolved & set(sources):
        return out
    if not any(out.get(name) not in (None, "") for name in sources):
        if out.get("tts") not in (None, "") or "speech" in unresolved:
            out["speech"] = {"text": "pending", "voice": "pending"}
        else:
            out["audio"] = "pending"
    return out


def stand_ins(params: dict[str, Any], unresolved: set[str], allowed: Sequence[str]) -> dict[str, Any]:
    """Replace run-time values with harmless stand-ins, so the literal ones can be checked now."""
    from airflow_provider_sync.models import SYNC_MODELS, resolve_model

    out = {k: (None if k in unresolved else v) for k, v in params.items()}
    if out["model"] is None:
        out["model"] = _stand_in_model(params, unresolved, allowed)
    if "video" in unresolved:
        out["video"] = "pending"
    air_id = resolve_model(str(out["model"]), allowed).air_id
    if SYNC_MODELS[air_id].shape == "settings":
        return _sync3_stand_ins(out, unresolved)
    segments = coerce_structure(out.get("segments"), "segments")
    refs = [s.get("ref") for s in segments if isinstance(s, Mapping)] if isinstance(segments, list) else []
    known: list[Any] = []
    for name in ("audio", "speech"):
        if name not in unresolved:
            value = coerce_structure(params.get(name), name)
            if isinstance(value, list):
                known += [i.get("id") for i in value if isinstance(i, Mapping)]
    missing = [r for r in dict.fromkeys(refs) if isinstance(r, str) and r not in known]
    if "audio" in unresolved or "speech" in unresolved:
        stand_in = [{"id": r, "source": "pending"} for r in missing] or (
            [{"id": "pending", "source": "pending"}] if not known else None
        )
        if "audio" in unresolved:
            out["audio"] = stand_in
        elif stand_in:
            out["audio"] = (coerce_structure(out.get("audio"), "audio") or []) + stand_in
    return out


__all__ = ["TRUSTED_ONLY", "is_unresolved", "mapped_partial_kwargs", "path_origins", "stand_ins"]
