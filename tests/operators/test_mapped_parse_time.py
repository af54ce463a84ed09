"""Literal values in ``partial()`` are checked when the DAG file is parsed, like any other.

``SyncLipsyncOperator.partial(sync_mode="remapp").expand(...)`` used to load fine and fail
every mapped task at run time. The DAG processor now reports it as an import error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"


def mapped(cls: type = SyncLipsyncOperator, **partial: Any) -> Any:
    from airflow_provider_sync._compat import DAG

    with DAG("mapped_checks", schedule=None):
        return cls.partial(task_id="render", **partial).expand(video=[VIDEO, VIDEO])


@pytest.mark.parametrize(
    ("partial", "fragments"),
    [
        ({"sync_mode": "remapp", "audio": AUDIO}, ["sync_mode", "'remapp'", "'remap'"]),
        ({"model": "react-1"}, ["model", "lipsync-2-pro"]),
        ({"output_format": "AVI"}, ["output_format", "'WEBM'"]),
        ({"poll_interval": 0}, ["poll_interval", "greater than 0"]),
        ({"timeout": "soon"}, ["timeout", "not a number"]),
        ({"force_new_job": "maybe"}, ["force_new_job"]),
        ({"input_transfer": "fax"}, ["input_transfer", "presign"]),
        ({"overwrite": "yes"}, ["overwrite", "not True or False"]),
        ({"allowed_media_roots": ["relative/dir"]}, ["allowed_media_roots", "not an absolute folder"]),
        ({"hook_params": {"max_attempts": 0}}, ["hook_params", "max_attempts"]),
        ({"hook_params": {"retries": 3}}, ["hook_params", "'retries' is not a hook setting"]),
        ({"segments": [{"startTime": 2, "endTime": 1, "ref": "a"}]}, ["segments.0", "greater than"]),
    ],
)
def test_a_literal_typo_in_partial_fails_when_the_dag_is_parsed(
    partial: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(SyncValidationError) as err:
        mapped(**partial)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_every_problem_of_partial_is_listed_at_once() -> None:
    with pytest.raises(SyncValidationError) as err:
        mapped(sync_mode="remapp", temperature=3, poll_interval=0, output_format="AVI")
    text = "\n".join(err.value.problems)
    for name in ("sync_mode", "temperature", "poll_interval", "output_format"):
        assert name in text
    assert len(err.value.problems) == 4


def test_the_react_operator_checks_its_own_settings_in_partial() -> None:
    with pytest.raises(SyncValidationError, match=r"emotion_prompt.*'happy'"):
        mapped(SyncReactOperator, audio=AUDIO, emotion_prompt="joyful")
    mapped(SyncReactOperator, audio=AUDIO, emotion_prompt="Happy")


def test_values_left_to_expand_or_to_templates_are_not_judged_at_parse_time() -> None:
    # No audio in partial (it may come from expand), a segment referring to an id only the
    # expanded audio will have, templates: all valid until the task runs.
    mapped(segments=[{"startTime": 0, "endTime": 1, "ref": "later"}])
    mapped(sync_mode="{{ params.mode }}", temperature="{{ params.t }}", audio=AUDIO)
    mapped(segments="segments/fr.json", audio=AUDIO)


def test_mapped_operators_still_expand_and_map_every_argument() -> None:
    from airflow_provider_sync._compat import DAG

    with DAG("mapped_ok", schedule=None):
        op = SyncLipsyncOperator.partial(task_id="render", sync_mode="loop", poll_interval=1).expand_kwargs(
            [{"video": VIDEO, "audio": AUDIO}, {"video": VIDEO, "audio": AUDIO, "temperature": 0.5}]
        )
    assert op.partial_kwargs["sync_mode"] == "loop"
    assert op.operator_class is SyncLipsyncOperator


DAG_FILE = """
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG(dag_id="typo_in_partial", schedule=None, start_date=datetime(2025, 1, 1)):
    SyncLipsyncOperator.partial(task_id="lipsync", sync_mode="remapp").expand(
        video=["c64351d5-4c59-42f7-95e1-eace013eddab"],
        audio=["b4c57832-2075-492b-bf89-9b5e3ac02503"],
    )
"""


def test_the_dag_processor_reports_it_as_an_import_error(tmp_path: Path, airflow_home: Path) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag  # 3.1 and later
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,attr-defined]

    dag_file = tmp_path / "typo_in_partial.py"
    dag_file.write_text(DAG_FILE)
    bag = DagBag(dag_folder=str(dag_file))
    assert "typo_in_partial" not in bag.dags
    [error] = bag.import_errors.values()
    assert "sync_mode" in error
    assert "'remapp' is not allowed" in error


@pytest.mark.parametrize("given", ["s3://renders/dubbed/", "asset-object"])
def test_a_mapped_tasks_output_asset_is_among_its_outlets_when_the_dag_is_parsed(given: str) -> None:
    # The scheduler knows a mapped task's outlets from partial() alone: without the asset there,
    # the events each instance emits would not be recorded as the asset's.
    from airflow_provider_sync._compat import Asset

    asset = Asset("s3://renders/dubbed/") if given == "asset-object" else given
    task = mapped(audio=AUDIO, output_asset=asset, outlets=[Asset("s3://elsewhere/x")])
    uris = [getattr(o, "uri", None) for o in task.outlets]
    assert uris.count(Asset("s3://renders/dubbed/").uri) == 1
    assert Asset("s3://elsewhere/x").uri in uris
