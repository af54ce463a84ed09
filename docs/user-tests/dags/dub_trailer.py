"""The DAG under test: dub a trailer into French with lipsync-2."""

from __future__ import annotations

from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_sync.operators.sync import SyncLipsyncOperator

with DAG("dub_trailer", schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:
    SyncLipsyncOperator(
        task_id="lipsync",
        video="{{ dag_run.conf['video'] }}",
        audio="{{ dag_run.conf['audio'] }}",
        sync_mode="bounce",
        retries=0,
    )
