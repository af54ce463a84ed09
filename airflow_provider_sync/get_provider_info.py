"""Provider metadata read by Airflow's ``ProvidersManager`` (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

from airflow_provider_sync import __version__
from airflow_provider_sync.connection_form import declared_conn_fields, declared_ui_field_behaviour


def get_provider_info() -> dict[str, Any]:
    """Describe the package: its connection type, hook, operators, sensor and trigger."""
    return {
        "package-name": "airflow-provider-sync",
        "name": "Sync (via Runware)",
        "description": "Lip-sync and performance re-animation with Sync's models through Runware's API.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "runware",
                "hook-class-name": "airflow_provider_sync.hooks.runware.RunwareHook",
                "hook-name": "Runware",
                # Airflow 3 draws the form from these; Airflow 2 asks the hook, which builds
                # it from the same definitions (airflow_provider_sync.connection_form).
                "ui-field-behaviour": declared_ui_field_behaviour(),
                "conn-fields": declared_conn_fields(),
            }
        ],
        "hooks": [
            {
                "integration-name": "Runware",
                "python-modules": ["airflow_provider_sync.hooks.runware"],
            }
        ],
        "operators": [
            {
                "integration-name": "Runware",
                "python-modules": ["airflow_provider_sync.operators.sync"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Runware",
                "python-modules": ["airflow_provider_sync.sensors.sync"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Runware",
                "python-modules": ["airflow_provider_sync.triggers.runware"],
            }
        ],
        "extra-links": ["airflow_provider_sync.links.SyncOutputVideoLink"],
        "config": {
            "sync": {
                "description": "Settings of the Sync provider (operators running Sync's models on Runware).",
                "options": {
                    "default_deferrable": {
                        "description": (
                            "Whether Sync operators defer to the triggerer while Runware renders, "
                            "when a DAG does not say (``deferrable=``). A render takes minutes; "
                            "deferring holds no worker slot during it. Set it to False only in "
                            "installations that run no triggerer."
                        ),
                        "version_added": "0.2.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    },
                    "allowed_media_roots": {
                        "description": (
                            "Comma-separated local folders (absolute) and object-storage prefixes "
                            "(``s3://bucket/prefix/``) that media paths coming from templates, "
                            "XCom or mapped arguments may read from (``video``, ``audio``) or "
                            "write under (``output_path``). Such values are often chosen by "
                            "whoever triggers the DAG (``dag_run.conf``); paths written literally "
                            "in DAG code are not restricted. Empty: run-time paths are refused. "
                            "Operators can add roots with their ``allowed_media_roots`` argument."
                        ),
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "/srv/media/incoming,/srv/media/renders,s3://renders/",
                        "default": "",
                    },
                },
            },
        },
        "integrations": [
            {
                "integration-name": "Runware",
                "external-doc-url": "https://runware.ai/docs",
                "tags": ["service"],
            }
        ],
    }
