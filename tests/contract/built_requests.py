"""Every request the package builds, for the contract tests: the example DAGs' tasks, the seed
page's examples as operator parameters, and one request per model with every option set."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2

from airflow_provider_sync.models import build_video_inference

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "example_dags").glob("example_*.py"))
MODEL_FIXTURES = ROOT / "tests" / "fixtures" / "runware" / "models"
SEED_EXAMPLES = ROOT / "tests" / "fixtures" / "spec_examples.json"
TASK_UUID = "0c6b3ea2-5a4f-4c55-9d0e-2f1c8a7b9e10"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"

#: The model page fixtures by AIR id (``sync:lipsync@3`` is sync-3's older id).
PAGES: dict[str, dict[str, Any]] = {}
for _path in sorted(MODEL_FIXTURES.glob("*.json")):
    _page = json.loads(_path.read_text())
    PAGES[_page["model"]] = _page


def page_for(request: Mapping[str, Any]) -> dict[str, Any]:
    """The page fixture of the request's model."""
    return PAGES[str(request["model"])]


def page_errors(request: Mapping[str, Any]) -> list[str]:
    """Where ``request`` breaks its model page's JSON schema (empty: it holds)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        page_for(request)["schema"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(request)
    ]


def _render(value: Any, env: jinja2.Environment, context: dict[str, Any]) -> Any:
    producer = getattr(getattr(value, "operator", None), "python_callable", None)
    if producer is not None and hasattr(value, "key"):
        # An XCom argument: what its (pure) upstream task returns for the default params.
        produced = producer(params=context["params"])
        return produced if value.key == "return_value" else produced[value.key]
    if isinstance(value, str):
        return env.from_string(value).render(**context) if "{{" in value or "{%" in value else value
    if isinstance(value, list):
        return [_render(v, env, context) for v in value]
    if isinstance(value, tuple):
        return tuple(_render(v, env, context) for v in value)
    if isinstance(value, dict):
        return {k: _render(v, env, context) for k, v in value.items()}
    return value


def _load_dags(path: Path) -> list[Any]:
    from airflow_provider_sync._compat import DAG

    namespace: dict[str, Any] = {"__name__": f"contract_{path.stem}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return [v for v in namespace.values() if isinstance(v, DAG)]


def example_dag_requests() -> Iterator[tuple[str, dict[str, Any]]]:
    """``build_request()`` of every Sync task in ``example_dags/`` with the DAG's default params.

    Mapped tasks (``partial().expand_kwargs()``) are built from their ``partial`` arguments and
    each set of arguments the upstream task returns for the default params; a task whose
    arguments come from object storage at run time (``example_sync_scheduled``) is checked on
    the requests it really sends, in ``tests/integration/test_example_dags.py``.
    """
    from airflow_provider_sync.operators.sync import SyncBaseOperator

    for path in EXAMPLES:
        for dag in _load_dags(path):
            params = {name: dag.params[name] for name in dag.params}
            env = jinja2.Environment(undefined=jinja2.StrictUndefined)
            for task in dag.tasks:
                name = f"{dag.dag_id}.{task.task_id}"
                if isinstance(task, SyncBaseOperator):
                    yield name, _built(task, {}, env, params)
                elif getattr(task, "partial_kwargs", None) is not None and _is_sync(task):
                    for n, kwargs in enumerate(_expanded_kwargs(dag, task, params)):
                        yield f"{name}[{n}]", _built_mapped(task, kwargs, env, params)


def _is_sync(task: Any) -> bool:
    from airflow_provider_sync.operators.sync import SyncBaseOperator

    operator_class = getattr(task, "operator_class", None)
    return isinstance(operator_class, type) and issubclass(operator_class, SyncBaseOperator)


def _expanded_kwargs(dag: Any, task: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    upstream = [dag.task_dict[t] for t in task.upstream_task_ids]
    for producer in upstream:
        callable_ = getattr(producer, "python_callable", None)
        if callable_ is None:
            continue
        try:
            produced = callable_(params=params)
        except TypeError:
            return []  # needs run-time context (data intervals, object storage)
        return list(produced)
    return []


def _built(
    task: Any, extra: dict[str, Any], env: jinja2.Environment, params: dict[str, Any]
) -> dict[str, Any]:
    for field in task.template_fields:
        setattr(task, field, _render(getattr(task, field), env, {"params": params, "task": task}))
    for key, value in extra.items():
        setattr(task, key, value)
    return dict(task.build_request(task_uuid=TASK_UUID))


def _built_mapped(
    task: Any, kwargs: dict[str, Any], env: jinja2.Environment, params: dict[str, Any]
) -> dict[str, Any]:
    cls = task.operator_class
    merged = {**task.partial_kwargs, **kwargs}
    merged = {k: v for k, v in merged.items() if k not in ("map_index_template",)}
    op = cls(task_id=f"contract_{uuid.uuid4().hex[:8]}", **merged)
    return _built(op, {}, env, params)


def seed_page_requests() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(name, the seed page's example, what we build from it as operator parameters)``."""
    short = {
        "sync:lipsync-2@1": "lipsync-2",
        "sync:lipsync-2-pro@1": "lipsync-2-pro",
        "sync:react-1@1": "react-1",
    }
    snake = {
        "syncMode": "sync_mode",
        "temperature": "temperature",
        "activeSpeakerDetection": "active_speaker_detection",
        "occlusionDetectionEnabled": "occlusion_detection_enabled",
        "segments": "segments",
        "editRegion": "edit_region",
        "emotionPrompt": "emotion_prompt",
    }
    for n, example in enumerate(json.loads(SEED_EXAMPLES.read_text())):
        inputs = example["inputs"]
        settings = (example.get("providerSettings") or {}).get("sync") or {}
        built = build_video_inference(
            model=short[example["model"]],
            video=inputs["video"],
            audio=inputs.get("audio") or inputs.get("audios"),
            speech=inputs.get("speech"),
            task_uuid=example["taskUUID"],
            **{snake[k]: v for k, v in settings.items()},
        ).to_payload()
        yield f"seed-{n}-{example['model']}", example, built


def full_option_requests() -> Iterator[tuple[str, dict[str, Any]]]:
    """One request per model with every parameter it takes set (and every envelope field)."""
    envelope: dict[str, Any] = {
        "video": VIDEO,
        "output_format": "webm",
        "output_quality": 80,
        "include_cost": True,
        "webhook_url": "https://hooks.example.com/runware?token=abc",
        "upload_endpoint": "https://bucket.example.com/out.webm?X-Amz-Signature=s",
        "ttl": 86400,
        "safety": {"check_content": True, "mode": "full"},
        "task_uuid": TASK_UUID,
    }
    common = {"sync_mode": "remap", "temperature": 0.6, "occlusion_detection_enabled": True}
    older_inputs = {
        "audio": [{"id": "a-1", "source": AUDIO}, {"id": "a-2", "source": "https://cdn.example.com/b.wav"}],
        "speech": [{"id": "s-1", "provider": {"name": "elevenlabs", "voiceId": "v-1"}, "text": "Hello."}],
    }
    segments = [
        {"start_time": 0, "end_time": 2, "ref": "a-1", "audio_start_time": 0.5, "audio_end_time": 2.5},
        {"start_time": 2, "end_time": 4, "ref": "s-1"},
    ]
    for model in ("lipsync-2", "lipsync-2-pro"):
        yield (
            model,
            build_video_inference(
                model=model,
                active_speaker_detection=True,
                segments=segments,
                **older_inputs,
                **common,
                **envelope,
            ).to_payload(),
        )
    yield (
        "react-1",
        build_video_inference(
            model="react-1",
            active_speaker_detection=True,
            edit_region="head",
            emotion_prompt="surprised",
            **older_inputs,
            **common,
            **envelope,
        ).to_payload(),
    )
    sync3_common = {**common, "sync_mode": "silence", "edit_region": "face", **envelope}
    yield (
        "sync-3-speech",
        build_video_inference(
            model="sync-3",
            speech={"text": "Hello there.", "voice": "v-1"},
            tts={"stability": 0.4, "similarity_boost": 0.8},
            active_speaker_detection={"auto_detect": False, "frame_number": 10, "coordinates": [640, 360]},
            **sync3_common,
        ).to_payload(),
    )
    yield (
        "sync-3-segments",
        build_video_inference(
            model="sync-3",
            segments=[
                {"start_time": 0, "end_time": 2, "audio": AUDIO, "audio_start_time": 1, "audio_end_time": 3},
                {"start_time": 2.5, "end_time": 4, "audio": "https://cdn.example.com/b.wav"},
            ],
            active_speaker_detection={"bounding_boxes": [[10, 20, 200, 220], None, [12, 20, 202, 220]]},
            **sync3_common,
        ).to_payload(),
    )
    yield (
        "sync-3-audio",
        build_video_inference(
            model="sync-3", audio=AUDIO, active_speaker_detection=True, **sync3_common
        ).to_payload(),
    )


def every_request() -> list[tuple[str, dict[str, Any]]]:
    """Every request above, named."""
    found = list(example_dag_requests())
    found += [(name, built) for name, _example, built in seed_page_requests()]
    found += [(f"full-{name}", request) for name, request in full_option_requests()]
    return found
