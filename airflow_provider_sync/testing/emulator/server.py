"""Running the emulator: in a thread (tests), in a child process (demo, deployments), by hand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn

from airflow_provider_sync.testing.emulator.config import EmulatorConfig
from airflow_provider_sync.testing.emulator.faults import FaultPlan, FaultRule
from airflow_provider_sync.testing.emulator.state import EmulatorState

LISTENING = "Runware emulator listening on "


class _QuietResets(logging.Filter):
    """Injected resets are on purpose: keep their tracebacks out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "InjectedReset"


def build_state(
    config: EmulatorConfig, faults: list[FaultRule] | None = None
) -> tuple[EmulatorState, Path | None]:
    """State for ``config``; also returns a temporary media folder to delete at the end, if made."""
    temp = None
    media_dir = config.media_dir
    if media_dir is None:
        temp = media_dir = Path(tempfile.mkdtemp(prefix="runware-emulator-"))
    media_dir.mkdir(parents=True, exist_ok=True)
    state = EmulatorState(
        config=config, media_dir=media_dir, faults=FaultPlan(rules=faults or [], seed=config.seed)
    )
    return state, temp


def make_server(state: EmulatorState, log_level: str = "warning") -> uvicorn.Server:
    from airflow_provider_sync.testing.emulator.app import create_app

    logging.getLogger("uvicorn.error").addFilter(_QuietResets())
    config = uvicorn.Config(
        create_app(state), log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class EmulatorServer:
    """The emulator in a background thread of this process.

    ``EmulatorServer(render_seconds=0.5, output="metadata")`` takes the fields of
    :class:`EmulatorConfig` as keywords. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, faults: list[FaultRule] | None = None, **overrides: Any
    ) -> None:
        self.config = config or EmulatorConfig()
        self.config.update(**overrides)
        self.state, self._temp = build_state(self.config, faults)
        self._server = make_server(self.state)
        self._sock = bind("127.0.0.1", 0)
        self.port = int(self._sock.getsockname()[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL (admin API and media live under it)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The task endpoint, to use as a connection's host."""
        return f"{self.url}/v1"

    @property
    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url)

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name="runware-emulator",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self.state.close()
        self.state._executor.shutdown(wait=True, cancel_futures=True)
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorProcess:
    """``python -m airflow_provider_sync.testing.emulator`` as a child process (its own session)."""

    def __init__(
        self, args: list[str] | None = None, env: dict[str, str] | None = None, startup_timeout: float = 60
    ) -> None:
        self.args = list(args or [])
        self.env = env
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url)

    def start(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_sync.testing.emulator", "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert self.proc is not None
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith(LISTENING) and not found:
                    found.append(line[len(LISTENING) :].strip())
            # keep draining so the child never blocks on a full pipe

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not found:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator process did not start")
            time.sleep(0.02)
        self.base_url = found[0]
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorAdmin:
    """A small client for the admin API under ``/_emulator/``."""

    def __init__(self, root_url: str) -> None:
        self.root = root_url.rstrip("/") + "/_emulator"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = httpx.request(method, f"{self.root}/{path}", json=body, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health"))

    def requests(self) -> list[dict[str, Any]]:
        """Every request received (API keys redacted), oldest first."""
        return list(self._call("GET", "requests"))

    def requests_tasks(self) -> list[dict[str, Any]]:
        """All tasks of all requests, in order."""
        return [t for r in self.requests() for t in r.get("tasks", [])]

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "stats"))

    def jobs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "jobs"))

    def job(self, task_uuid: str) -> dict[str, Any]:
        return dict(self._call("GET", f"jobs/{task_uuid}"))

    def submissions(self) -> list[str]:
        """Task UUIDs of the jobs created (duplicates and refusals excluded)."""
        return [j["taskUUID"] for j in self.jobs()]

    def set_faults(self, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._call("POST", "faults", rules))

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def configure(self, **settings: Any) -> dict[str, Any]:
        return dict(self._call("POST", "config", settings))

    def reset(self) -> None:
        self._call("POST", "reset")

    def complete(self, task_uuid: str) -> None:
        self._call("POST", f"jobs/{task_uuid}/complete")

    def fail(self, task_uuid: str, code: str = "timeoutProvider", message: str = "failed (admin)") -> None:
        self._call("POST", f"jobs/{task_uuid}/fail", {"code": code, "message": message})

    def deliver(self, task_uuid: str) -> None:
        """Make a job's pending late delivery (``deliver_late``) happen now."""
        self._call("POST", f"jobs/{task_uuid}/deliver")
