"""The provider as Airflow's own commands see it: providers, hooks, links, connection test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from airflow_provider_sync.testing.emulator import EmulatorServer

# Each test starts several `airflow` commands, each bounded on its own (120 s); on a busy
# machine one takes tens of seconds, so the suite-wide 120 s per test is not theirs.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

KEY = "cli-test-key-2b9d"


def airflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_airflow_lists_the_provider_its_hook_and_link(airflow_home: Path) -> None:
    providers = json.loads(airflow("providers", "list", "-o", "json").stdout)
    assert any(p["package_name"] == "airflow-provider-sync" for p in providers)
    from airflow.providers_manager import ProvidersManager

    info = ProvidersManager().providers["airflow-provider-sync"].data
    # The UI's Providers page links here; without it, to an Airflow page that does not exist.
    # Airflow 3 keeps the link in the provider info; 2.11's page reads the package metadata.
    url = info.get("documentation-url")
    if url is None:
        from airflow.utils.docs import get_doc_url_for_provider

        url = get_doc_url_for_provider("airflow-provider-sync", info["versions"][0])
    assert url.startswith("https://")
    assert "airflow.apache.org" not in url
    # The deployment-wide switch for installations without a triggerer is a declared option.
    assert "default_deferrable" in airflow("config", "list", "--section", "sync").stdout
    hooks = json.loads(airflow("providers", "hooks", "-o", "json").stdout)
    runware = [h for h in hooks if h["connection_type"] == "runware"]
    assert runware
    assert runware[0]["class"] == "airflow_provider_sync.hooks.runware.RunwareHook"
    links = airflow("providers", "links", "-o", "json").stdout
    assert "airflow_provider_sync.links.SyncOutputVideoLink" in links
    widgets = airflow("providers", "widgets", "-o", "json").stdout
    assert "timeout" in widgets
    # Airflow's provider schema lists sensors by module, as operators and triggers.
    [full] = json.loads(airflow("providers", "get", "airflow-provider-sync", "--full", "-o", "json").stdout)
    assert full["sensors"] == [
        {"integration-name": "Runware", "python-modules": ["airflow_provider_sync.sensors.sync"]}
    ]


def test_airflow_connections_test_uses_test_connection(
    emulator_server: EmulatorServer, airflow_home: Path
) -> None:
    emulator_server.admin.reset()
    emulator_server.admin.configure(api_keys=[KEY])
    good = {"conn_type": "runware", "host": emulator_server.base_url, "password": KEY}
    env = {"AIRFLOW__CORE__TEST_CONNECTION": "Enabled", "AIRFLOW_CONN_RUNWARE_CLI": json.dumps(good)}
    ok = airflow("connections", "test", "runware_cli", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "Connection success!" in ok.stdout
    probes = [t for t in emulator_server.admin.requests_tasks() if t["taskType"] == "getResponse"]
    assert len(probes) == 1
    assert uuid.UUID(probes[0]["taskUUID"]).version == 4  # a random v4 UUID, as Runware requires
    bad = {**good, "password": "sk-WRONG-cli-canary"}
    env["AIRFLOW_CONN_RUNWARE_CLI"] = json.dumps(bad)
    refused = airflow("connections", "test", "runware_cli", env=env)
    assert "invalidApiKey" in refused.stdout + refused.stderr
    assert "sk-WRONG-cli-canary" not in refused.stdout + refused.stderr
