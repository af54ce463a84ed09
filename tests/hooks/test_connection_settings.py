"""The connection's retry and timeout settings: one table for the form, the hook and hook_params.

A value out of its limits is an error naming the connection and the field, raised before any
request; it is never silently replaced by the default.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from airflow_provider_sync.connection_form import CONN_FIELDS, DEFAULTS, check_setting
from airflow_provider_sync.exceptions import SyncValidationError
from airflow_provider_sync.get_provider_info import get_provider_info
from airflow_provider_sync.hooks.runware import RunwareHook

URL = "http://settings.test/v1"
KEY = "sk-settings-test-1d2c"
SETTINGS = ("timeout", "max_attempts", "retry_min_wait", "retry_max_wait")


def connection(monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], conn_id: str = "runware_s") -> str:
    value = {"conn_type": "runware", "host": URL, "password": KEY, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    return conn_id


def settings_of(hook: RunwareHook) -> tuple[float, int, float, float]:
    s = hook.settings
    return s.timeout, s.max_attempts, s.retry_min_wait, s.retry_max_wait


def test_every_retry_and_timeout_extra_is_a_form_field_with_a_help_text() -> None:
    [conn_type] = get_provider_info()["connection-types"]
    fields = conn_type["conn-fields"]
    assert sorted(fields) == sorted(SETTINGS)
    for name, field in fields.items():
        assert field["label"], name
        assert field["description"], name
        assert f"default {DEFAULTS[name]:g}" in field["description"], name
        assert "default" not in field["schema"], name  # would be stored in every saved connection
        assert field["schema"]["type"][-1] == "null", name  # may be left empty
    assert fields["max_attempts"]["schema"]["type"][0] == "integer"
    assert conn_type["ui-field-behaviour"]["placeholders"]["timeout"] == "60"
    assert RunwareHook.get_ui_field_behaviour()["placeholders"]["max_attempts"] == "5"


def test_empty_fields_take_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = connection(monkeypatch, {"timeout": None, "max_attempts": "", "retry_min_wait": " "})
    assert settings_of(RunwareHook(conn_id)) == (60.0, 5, 1.0, 30.0)


def test_values_are_read_from_numbers_and_numeric_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"timeout": "12.5", "max_attempts": "3", "retry_min_wait": 0, "retry_max_wait": 2}
    assert settings_of(RunwareHook(connection(monkeypatch, extra))) == (12.5, 3, 0.0, 2.0)


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"max_attempts": "abc"}, ["'runware_s'", "max_attempts", "'abc'", "whole number from 1 to 100"]),
        ({"max_attempts": 2.5}, ["max_attempts", "2.5", "whole number"]),
        ({"max_attempts": 0}, ["max_attempts", "out of range"]),
        ({"timeout": 0.05}, ["timeout", "0.05", "from 0.1 to 3600"]),
        ({"timeout": "nan"}, ["timeout", "not a number"]),
        ({"timeout": True}, ["timeout", "True", "not a number"]),
        ({"retry_min_wait": -1}, ["retry_min_wait", "from 0 to 3600"]),
        ({"retry_max_wait": 1e9}, ["retry_max_wait", "out of range"]),
        (
            {"retry_min_wait": 5, "retry_max_wait": 2},
            ["retry_max_wait (2) is shorter than retry_min_wait (5)"],
        ),
    ],
)
def test_a_bad_extra_is_an_error_naming_the_connection_and_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], fragments: list[str]
) -> None:
    hook = RunwareHook(connection(monkeypatch, extra))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        with pytest.raises(SyncValidationError) as err:
            hook.get_task_state("3f2b8c1a-5d6e-4f70-8a9b-0c1d2e3f4a5b")
        assert not route.called  # refused before any request
    for fragment in fragments:
        assert fragment in str(err.value)
    assert KEY not in str(err.value)


def test_every_bad_extra_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = RunwareHook(connection(monkeypatch, {"timeout": "x", "max_attempts": -3, "retry_max_wait": "y"}))
    with pytest.raises(SyncValidationError) as err:
        hook.settings  # noqa: B018
    assert [p.split(":")[1].split()[1] for p in err.value.problems] == [
        "timeout",
        "max_attempts",
        "retry_max_wait",
    ]


async def test_the_triggerer_reads_the_settings_with_the_same_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = RunwareHook(connection(monkeypatch, {"max_attempts": "many"}))
    with pytest.raises(SyncValidationError, match="max_attempts"):
        await hook.asettings()


def test_hook_arguments_override_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = connection(monkeypatch, {"timeout": 20, "max_attempts": 2, "retry_max_wait": 9})
    hook = RunwareHook(conn_id, timeout=5, max_attempts=7, retry_min_wait=0.5, retry_max_wait=4)
    assert settings_of(hook) == (5.0, 7, 0.5, 4.0)
    assert settings_of(RunwareHook(conn_id, max_attempts=3)) == (20.0, 3, 1.0, 9.0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_attempts": 0}, "hook_params: max_attempts: 0 is out of range"),
        ({"timeout": "soon"}, "hook_params: timeout: 'soon' is not a number"),
        ({"retry_min_wait": 3, "retry_max_wait": 1}, "retry_max_wait (1) is shorter than retry_min_wait (3)"),
    ],
)
def test_hook_arguments_are_checked_when_the_hook_is_made(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SyncValidationError) as err:
        RunwareHook("any", **kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize("name", SETTINGS)
def test_each_fields_limits_come_from_its_schema(name: str) -> None:
    schema = CONN_FIELDS[name]["schema"]
    assert check_setting(name, schema["minimum"], "x") == schema["minimum"]
    assert check_setting(name, schema["maximum"], "x") == schema["maximum"]
    with pytest.raises(SyncValidationError):
        check_setting(name, schema["minimum"] - 1, "x")
    with pytest.raises(SyncValidationError):
        check_setting(name, schema["maximum"] + 1, "x")


def test_airflow_reads_the_form_declarations(airflow_home: object) -> None:
    """What Airflow 3's UI asks for (hook_meta) is built by its ProvidersManager from ours."""
    import inspect

    from airflow.providers_manager import ProvidersManager

    if "conn-fields" not in inspect.getsource(ProvidersManager):
        # Before the declarative form (3.0, 3.1) Airflow asks the hook for its widgets.
        pytest.skip("this Airflow does not read conn-fields")
    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    for name in SETTINGS:
        field = widgets[f"extra__runware__{name}"].field
        assert field["schema"]["title"] == CONN_FIELDS[name]["label"]
        assert field["description"] == CONN_FIELDS[name]["description"]
        assert field["value"] is None  # no default stored in new connections
    assert manager.field_behaviours["runware"]["relabeling"] == {"password": "API key", "host": "Base URL"}


def test_the_forms_test_button_names_a_field_out_of_its_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = RunwareHook(connection(monkeypatch, {"max_attempts": "many", "timeout": 9999}))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        ok, message = hook.test_connection()
    assert ok is False
    assert not route.called
    assert message == (
        "this connection: extra timeout: 9999 is out of range; give a number from 0.1 to 3600; "
        "this connection: extra max_attempts: 'many' is not a whole number; give a whole number from 1 to 100"
    )
