"""A user's own conftest: an isolated Airflow home, in place before Airflow is imported.

Airflow reads its configuration on first import, so this runs at the top of the conftest.
A suite that already has an Airflow home with a metadata database does not need it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from airflow_provider_sync.testing.sandbox import migrate_db, sandbox_env

DAGS = Path(__file__).parent / "dags"
_ENV = sandbox_env(Path(tempfile.mkdtemp(prefix="my-dag-tests-")) / "airflow", DAGS)
os.environ.update(_ENV)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    """Create the metadata database once per session (``dag.test()`` records runs in it)."""
    migrate_db(_ENV)
