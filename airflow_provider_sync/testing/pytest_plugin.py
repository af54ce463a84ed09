"""pytest fixtures for testing DAGs that use Sync operators, offline.

Registered automatically when the package is installed (a ``pytest11`` entry point named
``runware``). The fixtures need the ``testing`` extra; a test suite that never asks for them
does not import the emulator.

``runware_emulator``
    A local Runware emulator (one per test session, reset for each test), with the
    ``runware_default`` connection pointing at it for the duration of the test. It is an
    :class:`~airflow_provider_sync.testing.emulator.EmulatorServer`: ``base_url``, ``api_key``
    and ``admin`` -- the request log (``admin.requests()``, ``admin.submissions()``), counters
    (``admin.stats()``), fault switches (``admin.set_faults([...])``, ``admin.clear_faults()``),
    settings (``admin.configure(render_seconds=..., credit_usd=...)``) and job controls
    (``admin.complete(uuid)``, ``admin.fail(uuid, code, message)``).

``runware_run_dag``
    :func:`~airflow_provider_sync.testing.dags.run_dag` with the emulator in place and every
    Sync task polling every 0.2 s (:data:`FAST_POLL_SECONDS`), mapped ones included, whatever
    the DAG says: ``runware_run_dag(dag, conf)``. ``dag.test()`` runs mapped task instances
    one after another, so a DAG's 10 s default would add 10 s or more per instance.
    ``poll_interval=None`` keeps the DAG's own.

Renders take ``0.5`` s and produce a small JSON description instead of a video (the input
media are stored but never read), so tests stay fast;
``runware_emulator.admin.configure(output="render")`` renders real video (PyAV).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from airflow_provider_sync.testing.dags import DagResult
    from airflow_provider_sync.testing.emulator import EmulatorServer

#: Settings each test starts from.
DEFAULTS = {"render_seconds": 0.5, "output": "metadata", "rate_limit": 0.0, "credit_usd": None}
#: Seconds between status polls in ``runware_run_dag`` runs.
FAST_POLL_SECONDS = 0.2


@pytest.fixture(scope="session")
def runware_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """The session's emulator process-thread (prefer ``runware_emulator``, which resets it)."""
    from airflow_provider_sync.testing.emulator import EmulatorServer

    key = f"test-{secrets.token_hex(8)}"
    media = tmp_path_factory.mktemp("runware-emulator")
    with EmulatorServer(api_keys=[key], media_dir=media, **DEFAULTS) as server:  # type: ignore[arg-type]
        server.api_key = key  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def runware_emulator(
    runware_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> EmulatorServer:
    """The emulator, reset, with ``runware_default`` pointing at it for this test."""
    server = runware_emulator_server
    server.admin.reset()
    server.admin.configure(**DEFAULTS)
    key = server.api_key  # type: ignore[attr-defined]
    conn = {"conn_type": "runware", "host": server.base_url, "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    return server


@pytest.fixture
def runware_run_dag(runware_emulator: EmulatorServer) -> Callable[..., DagResult]:
    """Run a DAG against the emulator with fast polling: ``runware_run_dag(dag, conf, **kw)``.

    The keywords are :func:`~airflow_provider_sync.testing.dags.run_dag`'s; ``poll_interval``
    defaults to :data:`FAST_POLL_SECONDS` instead of the DAG's own.
    """
    from airflow_provider_sync.testing.dags import run_dag

    def run(
        dag: DAG,
        conf: dict[str, Any] | None = None,
        *,
        poll_interval: float | None = FAST_POLL_SECONDS,
        **kwargs: Any,
    ) -> DagResult:
        return run_dag(dag, conf, poll_interval=poll_interval, **kwargs)

    return run
