"""The ``runware`` connection's settings: one table for the form, the hook and ``hook_params``.

:data:`CONN_FIELDS` defines each setting a connection may hold in its extras -- its label,
help text and limits (a JSON schema). From it come:

* the connection form of Airflow 3 (``conn-fields`` in
  :func:`~airflow_provider_sync.get_provider_info.get_provider_info`), which draws one input
  per field with its help text;
* the same form on Airflow 2.11, whose UI asks the hook instead
  (``RunwareHook.get_connection_form_widgets``: :func:`flask_widgets`, Flask AppBuilder
  inputs checked against the same schema, and ``get_ui_field_behaviour``);
* the checks made when a hook reads a connection (:func:`read_settings`): a value out of
  its limits is an error naming the connection and the field, never silently replaced by
  the default;
* the checks of an operator's ``hook_params`` (:func:`check_hook_params`), which override
  the connection's values for one task.

Nothing here imports Airflow, httpx or Flask at module level: the provider info is read by
every Airflow process.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict, cast

if TYPE_CHECKING:
    from airflow_provider_sync.exceptions import SyncValidationError

DEFAULT_BASE_URL = "https://api.runware.ai/v1"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_MIN_WAIT = 1.0
DEFAULT_RETRY_MAX_WAIT = 30.0

#: Longest value accepted for the timeout and the retry waits, in seconds.
MAX_SETTING_SECONDS = 3600
#: Most tries accepted per request.
MAX_ATTEMPTS_LIMIT = 100

#: Fields the form adds, stored in the connection's extras (a JSON schema per field). The
#: ``default`` of each schema is left out on purpose: Airflow would store it in the extras
#: of every connection saved from the form, and a later change of the provider's default
#: would not reach them.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": (
            f"Seconds to wait for one HTTP answer from Runware (default {DEFAULT_TIMEOUT:g}). "
            "Uploads and downloads may take max(timeout, 300) s per read or write."
        ),
        # Sub-second values are for tests against a local emulator.
        "schema": {"type": ["number", "null"], "minimum": 0.1, "maximum": MAX_SETTING_SECONDS},
    },
    "max_attempts": {
        "label": "Tries per request",
        "description": (
            "How many times one request is tried when Runware or the network has a transient "
            "fault (HTTP 408, 429, 5xx, a dropped connection), the first try included "
            f"(default {DEFAULT_MAX_ATTEMPTS}). Refused keys and invalid parameters are never retried."
        ),
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ATTEMPTS_LIMIT},
    },
    "retry_min_wait": {
        "label": "First wait between tries (seconds)",
        "description": (
            "Seconds before the second try, and the most random jitter added to each wait "
            f"(default {DEFAULT_RETRY_MIN_WAIT:g}). Each further wait doubles, up to the longest wait."
        ),
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_SETTING_SECONDS},
    },
    "retry_max_wait": {
        "label": "Longest wait between tries (seconds)",
        "description": (
            f"The backoff never waits longer than this (default {DEFAULT_RETRY_MAX_WAIT:g}); a "
            "Retry-After header from Runware is honoured up to max(this, 300) seconds."
        ),
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_SETTING_SECONDS},
    },
}

#: The value each field takes when neither the connection nor ``hook_params`` set it.
DEFAULTS: dict[str, float | int] = {
    "timeout": DEFAULT_TIMEOUT,
    "max_attempts": DEFAULT_MAX_ATTEMPTS,
    "retry_min_wait": DEFAULT_RETRY_MIN_WAIT,
    "retry_max_wait": DEFAULT_RETRY_MAX_WAIT,
}


class HookSettings(TypedDict, total=False):
    """Settings that override a connection's for one hook (an operator's ``hook_params``)."""

    timeout: float
    max_attempts: int
    retry_min_wait: float
    retry_max_wait: float


#: Standard fields hidden or relabelled, and placeholders (Airflow's ``snake_case`` keys).
#: The placeholders show each default in the empty input.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login", "port", "extra"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "password": "Runware API key",
        "host": DEFAULT_BASE_URL,
        **{name: f"{value:g}" for name, value in DEFAULTS.items()},
    },
}


def declared_ui_field_behaviour() -> dict[str, Any]:
    """A copy of :data:`UI_FIELD_BEHAVIOUR` with the provider info's ``kebab-case`` keys."""
    return {key.replace("_", "-"): copy.deepcopy(value) for key, value in UI_FIELD_BEHAVIOUR.items()}


def declared_conn_fields() -> dict[str, Any]:
    """A copy of :data:`CONN_FIELDS` for the provider info (whose readers may change it)."""
    return copy.deepcopy(CONN_FIELDS)


class FormFieldCheck:
    """A wtforms validator for Airflow 2's form: an empty value, or what :func:`check_setting`
    accepts for field ``name``.

    Airflow 2 takes only text, integer, password and boolean inputs from providers; each
    setting is a text input checked the way the JSON schema of :data:`CONN_FIELDS` is on
    Airflow 3, with the message the hook gives when it reads a bad value.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, form: Any, field: Any) -> None:
        from wtforms.validators import StopValidation, ValidationError

        if field.data is None or not str(field.data).strip():
            raise StopValidation()  # optional: the default applies, nothing is stored
        try:
            check_setting(self.name, field.data, "")
        except ValueError as exc:  # SyncValidationError
            raise ValidationError("; ".join(p.strip() for p in _problems(exc))) from None


def flask_widgets() -> dict[str, Any]:
    """The form's own fields as Airflow 2.11 draws them (Flask AppBuilder inputs)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField

    return {
        name: StringField(
            lazy_gettext(field["label"]),
            widget=BS3TextFieldWidget(),
            description=field["description"],
            validators=[FormFieldCheck(name)],
        )
        for name, field in CONN_FIELDS.items()
    }


def _invalid(problems: list[str] | str) -> SyncValidationError:
    from airflow_provider_sync.exceptions import SyncValidationError

    return SyncValidationError(problems)


def _problems(exc: Exception) -> list[str]:
    return list(getattr(exc, "problems", [str(exc)]))


def check_setting(name: str, value: Any, where: str) -> float | int:
    """One setting of :data:`CONN_FIELDS`, checked against its schema.

    Numbers may come as strings (the URI form of a connection, older forms).

    :param where: what holds the value, for the message (``connection 'x': extra``).
    :raises SyncValidationError: naming ``where``, the field and its limits.
    """
    schema = CONN_FIELDS[name]["schema"]
    integer = "integer" in schema["type"]
    low, high = schema["minimum"], schema["maximum"]
    kind = "a whole number" if integer else "a number"
    wanted = f"give {kind} from {low:g} to {high:g}"
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            number = None
    if number is None or not math.isfinite(number) or (integer and not number.is_integer()):
        raise _invalid(f"{where} {name}: {_shown(value)} is not {kind}; {wanted}")
    if not low <= number <= high:
        raise _invalid(f"{where} {name}: {_shown(value)} is out of range; {wanted}")
    return int(number) if integer else number


def read_settings(
    extra: Mapping[str, Any], conn_id: str, overrides: HookSettings | None = None
) -> dict[str, float | int]:
    """The retry and timeout settings of connection ``conn_id``, checked.

    A field left empty (missing, ``None`` or ``""``) takes its default; ``overrides`` (an
    operator's ``hook_params``, already checked) win over the connection's values.

    :raises SyncValidationError: listing every extra that is not a number within its limits.
    """
    problems: list[str] = []
    out: dict[str, float | int] = {}
    for name, default in DEFAULTS.items():
        value = extra.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            out[name] = default
            continue
        try:
            out[name] = check_setting(name, value, f"connection {conn_id!r}: extra")
        except ValueError as exc:  # SyncValidationError
            problems += _problems(exc)
    out.update({k: v for k, v in (overrides or {}).items() if isinstance(v, (int, float))})
    if not problems and out["retry_max_wait"] < out["retry_min_wait"]:
        problems.append(
            f"connection {conn_id!r}: retry_max_wait ({out['retry_max_wait']:g}) is shorter than "
            f"retry_min_wait ({out['retry_min_wait']:g})"
        )
    if problems:
        raise _invalid(problems)
    return out


def check_hook_params(params: Any) -> HookSettings:
    """An operator's ``hook_params``: settings of :data:`CONN_FIELDS` that override the connection's.

    :raises SyncValidationError: for a name that is not a setting, or a value out of limits,
        listing every problem.
    """
    if params is None:
        return HookSettings()
    if not isinstance(params, Mapping):
        raise _invalid(f"hook_params: {_shown(params)} is not a dict; give some of {', '.join(DEFAULTS)}")
    problems: list[str] = []
    out: dict[str, float | int] = {}
    for name, value in params.items():
        if name not in DEFAULTS:
            problems.append(f"hook_params: {name!r} is not a hook setting; allowed: {', '.join(DEFAULTS)}")
            continue
        if value is None:
            continue
        try:
            out[name] = check_setting(name, value, "hook_params:")
        except ValueError as exc:  # SyncValidationError
            problems += _problems(exc)
    low, high = out.get("retry_min_wait"), out.get("retry_max_wait")
    if not problems and low is not None and high is not None and high < low:
        problems.append(f"hook_params: retry_max_wait ({high:g}) is shorter than retry_min_wait ({low:g})")
    if problems:
        raise _invalid(problems)
    return cast(HookSettings, out)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


__all__ = [
    "CONN_FIELDS",
    "DEFAULTS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_MAX_WAIT",
    "DEFAULT_RETRY_MIN_WAIT",
    "DEFAULT_TIMEOUT",
    "UI_FIELD_BEHAVIOUR",
    "FormFieldCheck",
    "HookSettings",
    "check_hook_params",
    "check_setting",
    "declared_conn_fields",
    "declared_ui_field_behaviour",
    "flask_widgets",
    "read_settings",
]
