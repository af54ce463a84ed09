"""Test-session setup shared by every test.

Airflow reads its configuration on first import, so the isolated Airflow home is put in
place here, before any test module imports ``airflow``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sync.testing.sandbox import migrate_db, sandbox_env

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"

_HOME = Path(tempfile.mkdtemp(prefix="airflow-provider-sync-tests-"))
_ENV = sandbox_env(_HOME / "airflow", EXAMPLE_DAGS)
os.environ.update(_ENV)
for _name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's Airflow home, with a migrated SQLite metadata DB."""
    migrate_db(_ENV)
    return _HOME / "airflow"


pytest_plugins = ["tests.dag_fixtures"]


@pytest.fixture
def local_object_storage() -> None:
    """Skips the test where Airflow's object storage has no ``local://`` scheme (2.11; 3.0
    added it). There the object-storage path is covered against an S3 server (tests/s3)."""
    from airflow_provider_sync._compat import ObjectStoragePath

    try:
        ObjectStoragePath("local:///").fs  # noqa: B018 -- resolving the filesystem is the check
    except ValueError:
        pytest.skip("Airflow 2.11's object storage has no local:// scheme (3.0 added it)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-jobs",
        type=int,
        default=int(os.environ.get("SYNC_SOAK_JOBS", "300")),
        help="jobs in the soak test (default 300, or $SYNC_SOAK_JOBS)",
    )


_FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines appended here are printed in the run's summary (soak, deployment figures)."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A pytest-xdist worker hands its figures to the controller, which prints the summary.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = list(_FIGURES)
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _FIGURES.extend(getattr(node, "workeroutput", {}).get("figures", []))


#: Under pytest-xdist (``make test`` runs two workers), tests under these paths run one after
#: another on one worker: each deployment test is a whole Airflow, and two at once would only
#: fight for the cores; the answer-parsing module counts what all its tests fed.
SERIAL_PATHS = ("tests/deployment/", "tests/properties/test_answer_parsing.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # xdist's own grouping (``xdist_group`` marks) renames node ids, which pytest 9.2 no
    # longer takes; a scheduler that groups by path needs nothing from the test items.
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class _PathScopes(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return next((p for p in SERIAL_PATHS if nodeid.startswith(p)), nodeid)

    return _PathScopes(config, log)
