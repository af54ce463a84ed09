"""Fixtures for fault, restart and soak tests: the emulator and a fast-retrying connection."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_sync._compat import BaseOperator, TaskDeferred
from airflow_provider_sync.operators.sync import SyncBaseOperator, SyncLipsyncOperator
from airflow_provider_sync.testing.emulator import EmulatorServer

from ..dag_fixtures import fresh
from ..operators.conftest import FakeTI

KEY = "reliability-key-51aa"
VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    media = tmp_path_factory.mktemp("reliability-media")
    with EmulatorServer(api_keys=[KEY], render_seconds=0.3, output="metadata", media_dir=media, seed=11) as s:
        yield s


@pytest.fixture
def emu(fault_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """Reset emulator; ``runware_default`` with a 1 s timeout and quick retries."""
    fresh(fault_server)  # a slow fault outlives the 1 s client timeout: let it land first
    fault_server.admin.configure(
        render_seconds=0.3, output="metadata", rate_limit=0, credit_usd=None, api_keys=[KEY]
    )
    conn = {
        "conn_type": "runware",
        "host": fault_server.base_url,
        "password": KEY,
        "extra": {"timeout": 1.0, "max_attempts": 6, "retry_min_wait": 0.05, "retry_max_wait": 0.3},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RUNWARE_DEFAULT", json.dumps(conn))
    return fault_server


def lipsync(n: int = 0, **kwargs: Any) -> SyncLipsyncOperator:
    params: dict[str, Any] = {
        "task_id": "lipsync",
        "video": VIDEO,
        "audio": f"https://cdn.test/clip-{n}.wav",
        "poll_interval": 0.1,
        "timeout": 30,
    }
    return SyncLipsyncOperator(**{**params, **kwargs})


def _ready_this_thread() -> None:
    """Airflow 2.11 wraps ``execute`` with a guard whose registry is thread-local and set up
    in the importing thread only (a task runner calls ``execute`` there); the soak calls it
    from a pool of threads."""
    safeguard = getattr(sys.modules[BaseOperator.__module__], "ExecutorSafeguard", None)
    sentinel = getattr(safeguard, "_sentinel", None)
    if sentinel is not None and not hasattr(sentinel, "callers"):
        sentinel.callers = {}


def run_to_end(
    op: SyncBaseOperator, ti: FakeTI, triggerer: asyncio.AbstractEventLoop | None = None
) -> dict[str, Any]:
    """Execute like Airflow would: defer, run the trigger, resume (or poll in the worker).

    :param triggerer: a running event loop (in another thread) that runs the trigger, as one
        triggerer runs many: triggers sharing it share its batching poller. Without it, the
        trigger runs alone in a fresh loop.
    """
    _ready_this_thread()
    try:
        return op.execute({"ti": ti})
    except TaskDeferred as deferred:
        if triggerer is None:
            events = asyncio.run(_first_event(deferred.trigger))
        else:
            events = asyncio.run_coroutine_threadsafe(_first_event(deferred.trigger), triggerer).result()
        method = getattr(op, deferred.method_name)
        return method({"ti": ti}, events, **(deferred.kwargs or {}))


async def _first_event(trigger: Any) -> dict[str, Any]:
    """Run a trigger to its first event, then close it as the triggerer does."""
    gen = trigger.run()
    try:
        async for event in gen:
            return dict(event.payload)
    finally:
        await gen.aclose()
    raise AssertionError("trigger ended without an event")
