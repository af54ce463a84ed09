"""A local Airflow with the Runware emulator, to try DAGs in the real UI: ``make airflow``.

``python -m airflow_provider_sync.testing.local_airflow --dags-folder example_dags`` starts

* the local Runware emulator (a child process, on a free loopback port),
* Airflow's API server (the UI), scheduler (LocalExecutor), DAG processor and triggerer, all
  on 127.0.0.1, with a SQLite metadata database in ``--home`` (kept between runs),

stores a ``runware_default`` connection pointing at the emulator, allows ``<home>/media``
as a media root (with sample media in ``<home>/media/samples``), prints the URL and the
login of Airflow's simple auth manager, and stops everything it started -- the task
processes included -- on Ctrl-C (SIGINT) or SIGTERM.

:class:`LocalAirflow` is the Airflow part alone (the deployment tests use it too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from airflow_provider_sync.testing.sandbox import migrate_db, sandbox_env

#: The components started, in this order.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: The API key the emulator accepts and the connection sends (not a secret: loopback only).
EMULATOR_KEY = "local-airflow-emulator-key"
#: The user Airflow's simple auth manager creates (``[core] simple_auth_manager_users``).
ADMIN = "admin"
#: Where it keeps the passwords it generated, in the Airflow home.
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if nothing listens on ``port`` of 127.0.0.1."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalAirflow:
    """Airflow's components on loopback, LocalExecutor and SQLite in ``home``.

    Every component runs in its own session; :meth:`stop` ends them and every process they
    started (task runners included). Use as a context manager to be sure it stops.

    :param home: the Airflow home (metadata DB, logs, generated passwords).
    :param dags_folder: the DAG files to load.
    :param port: the API server's port (0: a free one).
    :param env: more environment variables for every component (``AIRFLOW__...``,
        ``AIRFLOW_CONN_...``).
    :param all_admins: skip the login (everyone is admin), as tests may.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        port: int = 0,
        env: dict[str, str] | None = None,
        all_admins: bool = False,
    ) -> None:
        self.home = home
        self.port = port or free_port()
        airflow = Path(sys.executable).with_name("airflow")
        self.airflow = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
        self.env = {
            **os.environ,
            **sandbox_env(home, dags_folder),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            # A busy laptop's first answers from the API server can take longer than the
            # default 5 s, and a task whose start times out is lost.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(all_admins),
            # New DAG files show up within seconds, not the default five minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            **(env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    @property
    def url(self) -> str:
        """The UI and REST API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        """The SQLite metadata database."""
        return self.home / "airflow.db"

    def log_path(self, name: str) -> Path:
        """Where component ``name`` writes its output."""
        return self.home / f"{name}.log"

    def migrate(self) -> None:
        """Create or upgrade the metadata database."""
        migrate_db({k: v for k, v in self.env.items() if k.startswith("AIRFLOW")})

    def start(self, timeout: float = 180.0, *, migrate: bool = True) -> LocalAirflow:
        """Migrate the database (unless ``migrate=False``: done already), start every
        component and wait until the API server answers, its task API included."""
        if migrate:
            self.migrate()
        for name in COMPONENTS:
            self._launch(name)
        self.wait_for_api(timeout)
        return self

    def _launch(self, name: str) -> None:
        args = [name, "--port", str(self.port)] if name == "api-server" else [name]
        log = self.log_path(name).open("ab")
        self._logs[name] = log
        self.procs[name] = subprocess.Popen(
            [*self.airflow, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_api(self, timeout: float = 180.0) -> None:
        """Wait until the API server answers on its REST API and its task (execution) API."""
        import httpx

        deadline = time.monotonic() + timeout
        for path in ("/api/v2/monitor/health", "/execution/health"):
            while True:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}{path}", timeout=30).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the API server did not answer {self.url}{path}:\n{self.tail('api-server')}"
                    )
                time.sleep(0.5)

    def check_alive(self) -> None:
        """:raises RuntimeError: naming the first component that exited, with its last lines."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        """The last ``lines`` of a component's output."""
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def login(self, timeout: float = 60.0) -> tuple[str, str]:
        """The admin's user name and password, as the simple auth manager generated them."""
        path = Path(
            self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE") or self.home / PASSWORDS_FILE
        )
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError, ValueError):
                password = json.loads(path.read_text()).get(ADMIN)
                if password:
                    return ADMIN, str(password)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no password for {ADMIN!r} in {path}")
            time.sleep(0.2)

    def processes(self) -> list[Any]:
        """Every live process of the deployment: the components and all they started."""
        import psutil

        found: dict[int, psutil.Process] = {}
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(proc.pid)
                for p in [parent, *parent.children(recursive=True)]:
                    found[p.pid] = p
        return list(found.values())

    def stop(self, grace: float = 20.0) -> None:
        """End every component and every process they started; wait until all are gone."""
        import psutil

        everything = self.processes()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for p in everything:  # a task runner may have left its parent's session
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(everything, timeout=grace)
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=10)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def __enter__(self) -> LocalAirflow:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Stop(Exception):
    """Raised in the main thread by SIGINT or SIGTERM."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into :class:`_Stop`; ignore later ones while stopping."""

    def first(signum: int, frame: FrameType | None) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, again)
        raise _Stop(signal.Signals(signum).name)

    def again(signum: int, frame: FrameType | None) -> None:
        print("Still stopping: waiting for every process to end ...", flush=True)

    previous = {sig: signal.signal(sig, first) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def store_connection(env: dict[str, str], base_url: str, api_key: str) -> str:
    """Point ``runware_default`` in the metadata DB at the emulator, unless a user pointed it
    elsewhere (then it is kept). Returns what it did, for the console."""
    code = """
import sys
from urllib.parse import urlsplit
from airflow.models import Connection
from airflow.utils.session import create_session
host, key = sys.argv[1], sys.argv[2]
with create_session() as session:
    conn = session.query(Connection).filter(Connection.conn_id == "runware_default").one_or_none()
    if conn is not None and urlsplit(conn.host or "").hostname not in ("127.0.0.1", "localhost"):
        print("kept " + (conn.host or "https://api.runware.ai/v1"))
        sys.exit(0)
    if conn is None:
        conn = Connection(conn_id="runware_default", conn_type="runware")
        session.add(conn)
    conn.host = host
    conn.set_password(key)
    conn.description = "The local Runware emulator (make airflow): renders are free and offline."
    print("emulator " + host)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, base_url, api_key],
        env={k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_sync.testing.local_airflow",
        description="A local Airflow (UI, scheduler, DAG processor, triggerer) with the Runware emulator.",
    )
    p.add_argument("--dags-folder", type=Path, required=True, help="the DAG files to load")
    p.add_argument("--home", type=Path, default=Path(".airflow"), help="Airflow home (default .airflow)")
    p.add_argument("--port", type=int, default=8080, help="UI port (default 8080; 0 or busy: a free one)")
    p.add_argument("--render-seconds", type=float, default=5.0, help="the emulator's render time")
    p.add_argument(
        "--output",
        choices=["render", "metadata"],
        default="render",
        help="the emulator renders real video (default) or a JSON stand-in",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start everything, print how to use it, wait for Ctrl-C, stop everything."""
    from airflow_provider_sync.testing.emulator import EmulatorProcess
    from airflow_provider_sync.testing.samples import make_sample_audio, make_sample_video

    args = parse_args(argv)
    home = args.home.resolve()
    dags = args.dags_folder.resolve()
    media = home / "media"
    port = args.port if args.port and port_is_free(args.port) else free_port()
    if args.port and port != args.port:
        print(f"Port {args.port} is in use: the UI takes port {port} instead.", flush=True)
    started = time.monotonic()
    emulator = EmulatorProcess(
        [
            "--api-key",
            EMULATOR_KEY,
            "--render-seconds",
            str(args.render_seconds),
            "--media-dir",
            str(home / "emulator"),
            "--output",
            args.output,
        ]
    )
    env = {
        "AIRFLOW__SYNC__ALLOWED_MEDIA_ROOTS": str(media),
        # To try the examples: the trigger button runs a DAG at once, with no toggle first.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }
    stack = LocalAirflow(home, dags, port=port, env=env)
    with _stop_on_signals():
        try:
            print("Starting the Runware emulator ...", flush=True)
            emulator.start()
            print(f"Emulator: {emulator.base_url} (render time {args.render_seconds:g} s)", flush=True)
            samples = media / "samples"
            if not (samples / "talking-head.mp4").exists():
                make_sample_video(samples / "talking-head.mp4", 6)
                make_sample_audio(samples / "voice.wav", 4)
            print(f"Preparing the Airflow home {home} (SQLite) ...", flush=True)
            stack.migrate()
            conn = store_connection(stack.env, emulator.base_url, EMULATOR_KEY)
            print(f"Starting the API server, scheduler, DAG processor and triggerer on {stack.url} ...")
            stack.start(migrate=False)
            user, password = stack.login()
            _print_ready(stack, user, password, conn, dags, media, time.monotonic() - started)
            while True:
                stack.check_alive()
                if emulator.proc is not None and emulator.proc.poll() is not None:
                    raise RuntimeError("the emulator exited")
                time.sleep(1)
        except _Stop as why:
            print(f"\n{why}: stopping Airflow and the emulator ...", flush=True)
            return 0
        except (RuntimeError, TimeoutError) as exc:
            print(f"\n{exc}\nStopping everything ...", file=sys.stderr, flush=True)
            return 1
        finally:
            stack.stop()
            emulator.stop()
            print("Stopped: no process left running.", flush=True)


def _print_ready(
    stack: LocalAirflow, user: str, password: str, conn: str, dags: Path, media: Path, wall: float
) -> None:
    kept = conn.startswith("kept ")
    lines = [
        "",
        f"Airflow is up in {wall:.0f} s: {stack.url}",
        f"Login: {user} / {password}",
        f"  (generated by Airflow's simple auth manager: {stack.home}/{PASSWORDS_FILE})",
        f"DAGs from {dags}",
        "Connection runware_default: "
        + (f"kept as you set it ({conn[5:]})" if kept else f"the local emulator at {conn.split(' ', 1)[1]}"),
        *(
            ["  but AIRFLOW_CONN_RUNWARE_DEFAULT in your environment overrides it: unset it to use that"]
            if "AIRFLOW_CONN_RUNWARE_DEFAULT" in stack.env
            else []
        ),
        f"Allowed media roots: {media} (sample clip and voice in {media}/samples)",
        f"Logs: {stack.home}/<component>.log; task logs in {stack.home}/logs",
        "",
        "Press Ctrl-C to stop everything.",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
