"""The public operators' signatures: every Sync parameter visible, with the one set of defaults.

IDEs, type checkers and the API reference read ``__init__``'s signature: a parameter hidden
in ``**kwargs`` is invisible to them, and a default written twice drifts.
"""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.models import resolve_model
from airflow_provider_sync.operators import parameters
from airflow_provider_sync.operators.sync import SyncBaseOperator, SyncLipsyncOperator, SyncReactOperator

DOCS = Path(__file__).resolve().parents[2] / "docs"
PUBLIC = [(SyncLipsyncOperator, parameters.LIPSYNC_MODEL), (SyncReactOperator, parameters.REACT_MODEL)]
#: The defaults that are values, not "not given", and where they live.
SHARED_DEFAULTS = {
    "runware_conn_id": parameters.CONN_ID,
    "poll_interval": parameters.POLL_INTERVAL,
    "timeout": parameters.TIMEOUT,
    "include_cost": parameters.INCLUDE_COST,
    "input_transfer": parameters.INPUT_TRANSFER,
    "output_transfer": parameters.OUTPUT_TRANSFER,
}


def own_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The parameters ``cls.__init__`` itself declares (Airflow wraps __init__, keeping its signature)."""
    signature = inspect.signature(cls.__init__)
    return {name: p for name, p in signature.parameters.items() if name != "self"}


def test_the_shared_operator_declares_every_sync_parameter() -> None:
    declared = own_parameters(SyncBaseOperator)
    for name in SyncBaseOperator._parameter_names():
        assert name in declared, name
    assert "deferrable" in declared
    assert "output_asset" in declared


@pytest.mark.parametrize(("cls", "model"), PUBLIC, ids=lambda v: getattr(v, "__name__", v))
def test_no_sync_parameter_hides_in_kwargs(cls: type[SyncBaseOperator], model: str) -> None:
    params = own_parameters(cls)
    shared = own_parameters(SyncBaseOperator)
    variadic = [p for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert [p.name for p in variadic] == ["kwargs"]  # only BaseOperator's task_id, retries, ...
    for name, base in shared.items():
        if base.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        assert name in params, f"{cls.__name__} hides {name} in **kwargs"
        mine = params[name]
        assert mine.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert mine.annotation == base.annotation, name
        if name != "model":
            assert mine.default == base.default, name
    assert params["model"].default == model
    assert resolve_model(model).air_id == cls.allowed_models[0]


@pytest.mark.parametrize(("cls", "model"), PUBLIC, ids=lambda v: getattr(v, "__name__", v))
def test_defaults_come_from_the_parameters_module(cls: type[SyncBaseOperator], model: str) -> None:
    params = own_parameters(cls)
    for name, value in SHARED_DEFAULTS.items():
        assert params[name].default is value, name
    assert RunwareHook.default_conn_name == parameters.CONN_ID
    required = [
        n for n, p in params.items() if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    ]
    assert required == ["video"]


def test_each_operator_adds_the_settings_of_its_models() -> None:
    react = own_parameters(SyncReactOperator)
    assert react["edit_region"].default is None
    assert react["emotion_prompt"].default is None
    lipsync = own_parameters(SyncLipsyncOperator)
    assert lipsync["edit_region"].default is None  # sync-3's settings.mode
    assert "emotion_prompt" not in lipsync


def test_every_documented_parameter_is_in_the_signature() -> None:
    for cls in (SyncLipsyncOperator, SyncReactOperator):
        documented = re.findall(r":param (\w+):", cls.__doc__ or "")
        assert documented, cls
        assert set(documented) <= set(own_parameters(cls)), cls


def test_the_operators_page_states_the_same_defaults() -> None:
    """Each row of docs/operators.md whose Default cell starts with a literal matches the code."""
    params = own_parameters(SyncLipsyncOperator)
    rows = _parameter_rows((DOCS / "operators.md").read_text())
    checked = 0
    for name, cell in rows:
        if name not in params or name == "model":
            continue
        default = params[name].default
        literal = re.match(r"\s*`([^`]+)`", cell)
        if default is inspect.Parameter.empty:
            assert cell.strip() == "required", name
        else:
            assert literal, f"{name}: {cell!r}"
            assert _value(literal.group(1)) == default, name
        checked += 1
    assert checked >= 20


def _parameter_rows(text: str) -> list[tuple[str, str]]:
    """(name, Default cell) of the rows of the tables headed ``| Parameter | Type | Default |``."""
    rows: list[tuple[str, str]] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("| Parameter | Type | Default |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and (row := re.match(r"\| `(\w+)` \| [^|]+ \| ([^|]+) \|", line)):
            rows.append((row.group(1), row.group(2)))
    return rows


def _value(text: str) -> Any:
    if text in ("None", "True", "False") or text[:1].isdigit() or text.startswith("timedelta("):
        return eval(text, {"timedelta": timedelta})
    return text
