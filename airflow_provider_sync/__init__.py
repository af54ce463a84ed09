"""Apache Airflow provider for Sync's video models, run through Runware's unified API."""

from __future__ import annotations

__version__ = "0.1.0"
