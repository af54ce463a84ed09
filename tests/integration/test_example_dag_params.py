"""Every example DAG can be triggered as it ships: its default params validate, and no
optional param is one the trigger form would insist on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "example_dags").glob("example_*.py"))


def load_dags(path: Path) -> list[Any]:
    from airflow_provider_sync._compat import DAG

    namespace: dict[str, Any] = {"__name__": f"example_{path.stem}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return [v for v in namespace.values() if isinstance(v, DAG)]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_default_params_validate(path: Path) -> None:
    dags = load_dags(path)
    assert dags, f"{path.name} defines no DAG"
    for dag in dags:
        dag.params.validate()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_param_whose_default_is_empty_accepts_null_so_the_trigger_form_may_leave_it_empty(
    path: Path,
) -> None:
    # Airflow's trigger form marks a param required unless its type allows null, and keeps
    # the Trigger button disabled while a required field is empty.
    for dag in load_dags(path):
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            if param.value in ("", None, [], {}):
                allowed = param.schema.get("type")
                types = allowed if isinstance(allowed, list) else [allowed]
                assert "null" in types, (
                    f"{dag.dag_id}: param {name!r} defaults to {param.value!r} but is required"
                )
