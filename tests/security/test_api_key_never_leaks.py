"""The API key never shows: not in logs, XCom, rendered fields, exceptions or the request log.

A full DAG runs with a recognisable key, once successfully and once with the key refused,
and every place a key could end up is searched for it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.hooks.runware import RunwareHook
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import RunDag

pytestmark = pytest.mark.integration

CANARY = "sk-CANARY-7f3e9a1b2c4d5e6f-do-not-log"


@pytest.fixture
def canary_emulator(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    emulator.admin.configure(api_keys=[CANARY])
    conn = {"conn_type": "runware", "host": emulator.base_url, "password": CANARY}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    return emulator


def db_dump(dag_id: str, run_id: str) -> str:
    """XCom values and rendered template fields of the run, as text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_sync._compat import XComModel

    with create_session() as session:
        xcoms = session.execute(
            select(XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id
            )
        ).all()
        rendered = session.execute(
            select(RenderedTaskInstanceFields.rendered_fields).where(
                RenderedTaskInstanceFields.dag_id == dag_id, RenderedTaskInstanceFields.run_id == run_id
            )
        ).all()
    assert xcoms, "the run left no XCom to check"
    assert rendered, "the run left no rendered fields to check"
    return json.dumps([list(map(str, x)) for x in xcoms]) + json.dumps([str(r[0]) for r in rendered])


def everything_logged(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, home: Path) -> str:
    out, err = capfd.readouterr()
    files = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    return out + err + caplog.text + files


def test_the_key_is_nowhere_after_a_successful_run(
    canary_emulator: EmulatorServer,
    run_dag: RunDag,
    airflow_home: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    result = run_dag("example_sync_lipsync.py", {"sync_mode": "loop"}, deferrable=True)
    assert result.state == "success"
    logged = everything_logged(capfd, caplog, airflow_home)
    assert "Runware task UUID" in logged  # the logs were captured...
    assert CANARY not in logged  # ...and the key is not in them
    assert CANARY not in db_dump(result.dag_id, result.run_id)
    assert CANARY not in json.dumps(canary_emulator.admin.requests())
    assert CANARY not in json.dumps(canary_emulator.admin.jobs())


def test_the_key_is_nowhere_when_it_is_refused(
    canary_emulator: EmulatorServer,
    run_dag: RunDag,
    airflow_home: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    canary_emulator.admin.configure(api_keys=["some-other-key"])
    caplog.set_level("DEBUG")
    result = run_dag("example_sync_lipsync.py", {}, deferrable=False)
    assert result.state == "failed"
    logged = everything_logged(capfd, caplog, airflow_home)
    assert "invalidApiKey" in logged  # the failure was logged with the vendor's code...
    assert CANARY not in logged  # ...but not with the key
    assert CANARY not in json.dumps(canary_emulator.admin.requests())


def test_every_form_of_the_key_is_masked_once_the_hook_has_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import quote

    from airflow_provider_sync._compat import redact

    # A key never seen in this process (the masker is process-wide: an earlier test's key
    # would be masked whatever this hook does), with characters that URL-quoting changes.
    key = f"sk-{uuid.uuid4().hex}/+="
    conn = {"conn_type": "runware", "host": "http://masking.test/v1", "password": f"{key}\n"}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    forms = [key, f"Bearer {key}", quote(key, safe="")]
    assert key in redact(f"the key is {key}")  # nothing masks it yet...
    hook = RunwareHook()
    try:
        settings: Any = hook.settings
        assert settings.api_key == key
        assert key not in repr(settings)
    finally:
        hook.close()
    for form in forms:  # ...and once the hook has read it, no form of it shows
        shown = redact(f"sent {form} to Runware")
        assert key not in shown
        assert quote(key, safe="") not in shown
        assert shown.startswith("sent ")
        assert "***" in shown


def test_a_connection_without_a_key_hides_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_sync._compat import redact
    from airflow_provider_sync.exceptions import RunwareAuthError

    for password in ("", "\n"):
        conn = {"conn_type": "runware", "host": "http://masking.test/v1", "password": password}
        monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
        with pytest.raises(RunwareAuthError, match="has no API key"):
            RunwareHook().settings  # noqa: B018
    # Registering the key's forms of an empty key would mask "Bearer " in every later log.
    assert redact("Authorization: Bearer <key>") == "Authorization: Bearer <key>"
