"""A local Runware emulator: the same protocol on loopback, for offline DAGs and tests.

Start it with ``python -m airflow_provider_sync.testing.emulator --port 8765`` and point a
``runware`` connection's host at ``http://127.0.0.1:8765/v1``. See ``docs/emulator.md``.
"""

from __future__ import annotations

from airflow_provider_sync.testing.emulator.config import EmulatorConfig
from airflow_provider_sync.testing.emulator.faults import FaultRule
from airflow_provider_sync.testing.emulator.server import EmulatorAdmin, EmulatorProcess, EmulatorServer
from airflow_provider_sync.testing.emulator.validation import validate_task

__all__ = [
    "EmulatorAdmin",
    "EmulatorConfig",
    "EmulatorProcess",
    "EmulatorServer",
    "FaultRule",
    "validate_task",
]
