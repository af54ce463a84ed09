"""What a Sync operator can check when its DAG file is parsed, and what must wait for a run.

A literal typo (``sync_mode="remapp"``) should be a DAG import error, not a failed task an
hour later. Values only known at run time (Jinja templates, XCom arguments, ``expand()``
arguments) are replaced by harmless stand-ins so the literal ones around them can still be
checked. The same distinction decides which paths are *trusted* (written in the DAG file)
and which are held to the allowed media roots (they may come from ``dag_run.conf``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.models import (
    build_video_inference,
    coerce_structure,
    normalise_audio,
    normalise_speech,
    parse_flag,
    parse_seconds,
    resolve_model,
)
from airflow_provider_sync.operators.parameters import FILE_PARAMETERS, TEMPLATE_EXT
from airflow_provider_sync.paths import MediaRoots, TemplatedPaths

#: Parameters that widen what a task may do on the worker's disk: never taken from expand().
TRUSTED_ONLY = ("allowed_media_roots", "overwrite")
#: Durations in seconds (or ``timedelta``).
TIMING = ("poll_interval", "timeout", "expected_render_time")


def check_trusted_only(op: Any, partial: Mapping[str, Any] | None) -> None:
    """Refuse :data:`TRUSTED_ONLY` parameters that came from ``expand()``.

    :param partial: see :func:`mapped_partial_kwargs`.
    :raises SyncValidationError: naming the parameter.
    """
    for name in TRUSTED_ONLY:
        value = getattr(op, name)
        if partial is not None and value not in (None, False) and partial.get(name) != value:
            raise SyncValidationError(
                f"{name}: give it in partial(), not in expand(): a run-time value may not widen "
                "what the task may read or write"
            )


def check_switch(value: Any, name: str) -> bool:
    """``value`` of the switch ``name``, which must be ``True`` or ``False`` (it is not templated).

    :raises SyncValidationError: naming the parameter.
    """
    if not isinstance(value, bool):
        raise SyncValidationError(f"{name}: {value!r} is not True or False (it is not templated)")
    return value


def is_unresolved(value: Any) -> bool:
    """True for values only known at run time: Jinja strings, XComArgs, mapped arguments."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_unresolved(k) or is_unresolved(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_unresolved(v) for v in value)
    return not isinstance(value, (int, float, bool, type(None), timedelta))


def names_template_file(value: Any) -> bool:
    """Whether ``value`` names a templated file holding a parameter (``segments/fr.json``)."""
    return isinstance(value, str) and value.strip().endswith(TEMPLATE_EXT)


def check_literals(
    values: Mapping[str, Any], *, request_params: Collection[str], allowed_models: Sequence[str]
) -> None:
    """Check every value written literally in the DAG; raise every problem at once.

    :param values: operator parameters as the DAG gave them. A parameter missing here is a
        run-time value (an ``expand()`` argument, when checking ``partial()``), like one that
        is a template, an XCom reference or a template file name: a harmless stand-in takes
        its place so the literal values around it can still be checked.
    :param request_params: the operator's parameters that become part of the request.
    :param allowed_models: AIR ids the operator accepts (the first is its default).
    :raises SyncValidationError: listing every problem found, each naming its parameter.
    """
    problems: list[str] = []

    def check(fn: Callable[..., Any], *args: Any) -> bool:
        try:
            fn(*args)
        except SyncValidationError as exc:
            problems.extend(exc.problems)
            return False
        return True

    def literal(name: str) -> bool:
        return name in values and not is_unresolved(values[name])

    for name in TIMING:
        if literal(name) and values[name] not in (None, ""):
            check(parse_seconds, values[name], name)
    if literal("force_new_job"):
        check(parse_flag, values["force_new_job"], "force_new_job")
    if literal("idempotency_key"):
        from airflow_provider_sync.idempotency import idempotency_fingerprint

        check(idempotency_fingerprint, values["idempotency_key"])
    if "allowed_media_roots" in values:
        check(MediaRoots.parse, values["allowed_media_roots"] or (), "allowed_media_roots")
    for name in ("overwrite", "wait_for_completion"):
        if name in values:
            check(check_switch, values[name], name)
    if literal("max_cost"):
        from airflow_provider_sync.pricing import parse_max_cost

        check(parse_max_cost, values["max_cost"])
    if "hook_params" in values:
        from airflow_provider_sync.connection_form import check_hook_params

        check(check_hook_params, values["hook_params"])
    from airflow_provider_sync.object_storage import INPUT_TRANSFERS, OUTPUT_TRANSFERS, check_transfer

    for name, allowed in (("input_transfer", INPUT_TRANSFERS), ("output_transfer", OUTPUT_TRANSFERS)):
        if literal(name):
            check(check_transfer, values[name], name, allowed)
    params = {name: values.get(name) for name in request_params}
    unresolved = {
        name
        for name in request_params
        if not literal(name) or (name in FILE_PARAMETERS and names_template_file(values[name]))
    }
    if "model" not in unresolved and not check(resolve_model, params["model"], allowed_models):
        unresolved.add("model")  # reported once; the rest is checked with the default model
    try:
        build_video_inference(
            **(stand_ins(params, unresolved, allowed_models) if unresolved else params),
            allowed_models=allowed_models,
        ).to_payload()
    except SyncValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise SyncValidationError(problems)


def mapped_partial_kwargs(op: Any) -> Mapping[str, Any] | None:
    """For a task unmapped from ``partial(...).expand(...)``: the literal ``partial`` arguments.

    ``None`` for an ordinary task. The expanded arguments are run-time values (often built
    from ``dag_run.conf`` upstream); only ``partial`` ones are written in the DAG file.
    """
    if not getattr(op, "_BaseOperator__from_mapped", False):
        return None
    dag = getattr(op, "_dag", None)
    mapped = dag.task_dict.get(op.task_id) if dag is not None else None
    if mapped is None and dag is not None:
        # Airflow 2.11 builds the task inside its task group, which prefixes the group's id a
        # second time ("g.g.render") until the mapped task's id is put back, after __init__.
        ids = [i for i in dag.task_dict if op.task_id.endswith(f".{i}")]
        mapped = dag.task_dict[max(ids, key=len)] if ids else None
    partial = getattr(mapped, "partial_kwargs", None)
    return partial if isinstance(partial, Mapping) else {}


def _expanded(op: Any, name: str, partial: Mapping[str, Any] | None) -> bool:
    """Whether ``op``'s ``name`` came from ``expand()`` (``partial``: see :func:`mapped_partial_kwargs`)."""
    # expand() may not repeat a partial() argument, so an equal value came from partial().
    return partial is not None and (name not in partial or partial[name] != getattr(op, name))


def is_run_time_value(op: Any, name: str, partial: Mapping[str, Any] | None) -> bool:
    """Whether ``op``'s parameter ``name`` was only known at run time: a template, an XCom
    reference, or an ``expand()`` argument. Call it at init, before templates are rendered."""
    return _expanded(op, name, partial) or is_unresolved(getattr(op, name))


def path_origins(op: Any, partial: Mapping[str, Any] | None) -> TemplatedPaths:
    """Which of ``video``, ``audio`` and ``output_path`` hold run-time values (checked at init)."""

    def expanded(name: str) -> bool:
        return _expanded(op, name, partial)

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
    for name, normalise in (("audio", normalise_audio), ("speech", normalise_speech)):
        if name not in unresolved:
            # As the request will read it: a bare source string is the input "audio-1".
            value = normalise(params.get(name))
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
            audio = normalise_audio(out.get("audio"))
            out["audio"] = (audio if isinstance(audio, list) else []) + stand_in
    return out


__all__ = [
    "TIMING",
    "TRUSTED_ONLY",
    "check_literals",
    "check_switch",
    "check_trusted_only",
    "is_run_time_value",
    "is_unresolved",
    "mapped_partial_kwargs",
    "names_template_file",
    "path_origins",
    "stand_ins",
]
