"""Operators for Sync's models."""

from __future__ import annotations

from airflow_provider_sync.operators.sync import SyncBaseOperator, SyncLipsyncOperator, SyncReactOperator

__all__ = ["SyncBaseOperator", "SyncLipsyncOperator", "SyncReactOperator"]
