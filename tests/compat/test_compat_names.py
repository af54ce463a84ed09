"""The compatibility module on the Airflow installed: every name resolves, and the helpers
that bridge releases do what 3.x does."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync import _compat


@pytest.mark.parametrize("name", sorted(_compat.__all__))
def test_every_name_resolves_on_this_airflow(name: str) -> None:
    value = getattr(_compat, name)
    assert value is not None
    if inspect.isclass(value) or callable(value):
        assert getattr(value, "__module__", "").startswith(("airflow", "airflow_provider_sync"))


def test_a_name_that_is_nowhere_says_where_it_was_looked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_compat._LOCATIONS, "Nowhere", ("airflow.no_such_module", "airflow:NoSuchName"))
    with pytest.raises(
        ImportError, match=r"'Nowhere' from any of airflow\.no_such_module, airflow:NoSuchName"
    ):
        _compat._resolve("Nowhere")


def test_the_asset_class_is_what_the_operator_puts_in_its_outlets() -> None:
    from airflow_provider_sync.operators.sync import SyncLipsyncOperator

    op = SyncLipsyncOperator(
        task_id="t",
        video="c64351d5-4c59-42f7-95e1-eace013eddab",
        audio="https://a.test/a.wav",
        output_asset="renders",
    )
    assert isinstance(op.output_asset, _compat.Asset)
    assert op.output_asset in op.outlets
    assert isinstance(op, _compat.BaseOperator)


def test_object_storage_paths_are_told_from_local_files(tmp_path: Path) -> None:
    assert _compat.is_local_path(tmp_path)
    assert not _compat.is_local_path(_compat.ObjectStoragePath("s3://bucket/key.mp4"))
    assert not _compat.is_local_path("/not/a/path/object")


class _Dag:
    """What dag_test needs of a DAG: ``test()`` with one release's keywords."""

    fileloc = "<memory>"

    def __init__(self, test: Any) -> None:
        self.test = test


def test_dag_test_passes_the_logical_date_by_the_name_the_release_takes() -> None:
    seen: dict[str, Any] = {}

    def test_211(execution_date: Any = None, run_conf: Any = None) -> str:
        seen.update(execution_date=execution_date, run_conf=run_conf)
        return "run"

    def test_3x(logical_date: Any = None, run_after: Any = None, run_conf: Any = None) -> str:
        seen.update(logical_date=logical_date, run_after=run_after, run_conf=run_conf)
        return "run"

    assert _compat.dag_test(_Dag(test_211), logical_date="d", run_after="d", run_conf={"a": 1}) == "run"
    assert seen == {"execution_date": "d", "run_conf": {"a": 1}}
    seen.clear()
    assert _compat.dag_test(_Dag(test_3x), logical_date="d", run_after="e", run_conf={}) == "run"
    assert seen == {"logical_date": "d", "run_after": "e", "run_conf": {}}
