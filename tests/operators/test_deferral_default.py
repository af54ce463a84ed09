"""Whether an operator defers when the DAG does not say: deployment options, in their order.

Operator argument > ``[sync] default_deferrable`` > ``[operators] default_deferrable`` (when
the deployment set it) > True. Options are set the way deployments set them: environment
variables, and values in the configuration (what ``airflow.cfg`` holds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_sync._compat import conf
from airflow_provider_sync.operators.parameters import default_deferrable
from airflow_provider_sync.operators.sync import SyncLipsyncOperator, SyncReactOperator

VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"
SYNC_ENV = "AIRFLOW__SYNC__DEFAULT_DEFERRABLE"
OPERATORS_ENV = "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"


@pytest.fixture(autouse=True)
def no_deployment_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SYNC_ENV, OPERATORS_ENV):
        for suffix in ("", "_CMD", "_SECRET"):
            monkeypatch.delenv(name + suffix, raising=False)


@pytest.fixture
def cfg() -> Iterator[dict[tuple[str, str], str]]:
    """Options written into the configuration as airflow.cfg would hold them; removed after."""
    written: dict[tuple[str, str], str] = {}
    yield written
    for section, option in written:
        conf.remove_option(section, option, remove_default=False)


def write(cfg: dict[tuple[str, str], str], section: str, value: str) -> None:
    if not conf.has_section(section):  # Airflow 3.0 has no [sync] until a value is written
        conf.add_section(section)
    conf.set(section, "default_deferrable", value)
    cfg[(section, "default_deferrable")] = value


def deferrable(**kwargs: bool) -> tuple[bool, bool]:
    """What each public operator decides, given the same arguments."""
    lip = SyncLipsyncOperator(task_id="l", video=VIDEO, audio=AUDIO, **kwargs)
    react = SyncReactOperator(task_id="r", video=VIDEO, audio=AUDIO, **kwargs)
    return lip.deferrable, react.deferrable


def test_with_nothing_set_the_operators_defer() -> None:
    assert default_deferrable() is True
    assert deferrable() == (True, True)


@pytest.mark.parametrize("value", ["False", "false", "0"])
def test_a_deployment_that_said_no_deferral_for_all_operators_is_followed(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(OPERATORS_ENV, value)
    assert deferrable() == (False, False)


def test_operators_true_keeps_deferral(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPERATORS_ENV, "True")
    assert deferrable() == (True, True)


@pytest.mark.parametrize(("sync", "operators"), [("True", "False"), ("False", "True"), ("False", "False")])
def test_the_providers_own_option_wins_over_airflows(
    monkeypatch: pytest.MonkeyPatch, sync: str, operators: str
) -> None:
    monkeypatch.setenv(SYNC_ENV, sync)
    monkeypatch.setenv(OPERATORS_ENV, operators)
    expected = sync == "True"
    assert deferrable() == (expected, expected)


@pytest.mark.parametrize(("sync", "operators"), [(None, "False"), ("False", None), ("False", "True")])
@pytest.mark.parametrize("argument", [True, False])
def test_the_operators_argument_wins_over_every_option(
    monkeypatch: pytest.MonkeyPatch, sync: str | None, operators: str | None, argument: bool
) -> None:
    for name, value in ((SYNC_ENV, sync), (OPERATORS_ENV, operators)):
        if value is not None:
            monkeypatch.setenv(name, value)
    assert deferrable(deferrable=argument) == (argument, argument)


def test_the_sync_option_in_airflow_cfg_is_followed(cfg: dict[tuple[str, str], str]) -> None:
    write(cfg, "sync", "False")
    assert deferrable() == (False, False)


def test_operators_false_in_airflow_cfg_reads_as_airflows_default_and_is_not_followed(
    cfg: dict[tuple[str, str], str],
) -> None:
    # Airflow writes every default into a new airflow.cfg: "default_deferrable = false" under
    # [operators] is what a deployment that never chose anything has (docs/deferrable.md).
    write(cfg, "operators", "false")
    assert deferrable() == (True, True)


def test_an_option_that_is_not_a_boolean_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPERATORS_ENV, "sometimes")
    with pytest.raises(Exception, match="default_deferrable"):
        default_deferrable()
