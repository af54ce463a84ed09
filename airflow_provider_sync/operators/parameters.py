"""The Sync operators' parameters: their defaults, written once, and the deferral default.

The operators' signatures and the Python render API (:mod:`airflow_provider_sync.render`) take
their defaults from here; a test checks every public signature against them. Parameters whose
default is ``None`` (or ``False``) mean "not given" and are written as such.
"""

from __future__ import annotations

import configparser
import os
from datetime import timedelta

#: The ``runware`` connection used when none is named (``RunwareHook.default_conn_name``).
CONN_ID = "runware_default"
#: ``SyncLipsyncOperator``'s model.
LIPSYNC_MODEL = "lipsync-2"
#: ``SyncReactOperator``'s model.
REACT_MODEL = "react-1"
#: Seconds between two status polls.
POLL_INTERVAL = 10.0
#: How long to wait for a render.
TIMEOUT = timedelta(hours=1)
#: Ask Runware to report each job's cost.
INCLUDE_COST = True
#: How object-storage inputs reach Runware.
INPUT_TRANSFER = "auto"
#: How an object-storage ``output_path`` is written.
OUTPUT_TRANSFER = "auto"

#: Extensions of a templated file next to the DAG that holds a parameter's value, e.g.
#: ``segments="segments/fr.json"`` (Databricks' operators take ``.json-tpl`` the same way).
TEMPLATE_EXT = (".json", ".json-tpl")
#: The parameters whose value may be such a file. Only their whole value is read as a file
#: name: a string inside them (a speech text ending in ".json") is never loaded.
FILE_PARAMETERS = ("audio", "speech", "segments")

#: Airflow's own default of ``[operators] default_deferrable`` (every release since 2.7).
AIRFLOW_DEFAULT_DEFERRABLE = False
#: The provider's default of ``[sync] default_deferrable``.
SYNC_DEFAULT_DEFERRABLE = True


def default_deferrable() -> bool:
    """Whether a Sync operator defers when the DAG does not say (``deferrable=None``).

    In this order:

    1. ``[sync] default_deferrable``, when the deployment set it;
    2. Airflow's ``[operators] default_deferrable``, when the deployment set it;
    3. ``True``: a render takes minutes, and the point of this provider is that no worker
       slot waits for it (Airflow's own default, ``False``, does not apply).

    *Set* means an environment variable (``AIRFLOW__SYNC__DEFAULT_DEFERRABLE``, or its
    ``_CMD`` / ``_SECRET`` forms), or a value in ``airflow.cfg`` other than the option's
    default: Airflow writes every default into a new ``airflow.cfg``, so a line holding the
    default value cannot be told from one nobody wrote.

    :raises AirflowConfigException: an option set to something that is not a boolean.
    """
    for section, default in (("sync", SYNC_DEFAULT_DEFERRABLE), ("operators", AIRFLOW_DEFAULT_DEFERRABLE)):
        value = _set_boolean(section, "default_deferrable", default)
        if value is not None:
            return value
    return SYNC_DEFAULT_DEFERRABLE


def _set_boolean(section: str, option: str, default: bool) -> bool | None:
    """The option's value if the deployment set it (see :func:`default_deferrable`), else ``None``."""
    from airflow_provider_sync._compat import conf

    env = f"AIRFLOW__{section.upper()}__{option.upper()}"
    if any(f"{env}{suffix}" in os.environ for suffix in ("", "_CMD", "_SECRET")):
        return bool(conf.getboolean(section, option))
    # The file's own sections (and conf.set()), without Airflow's built-in defaults.
    if configparser.ConfigParser.has_option(conf, section, option):
        value = bool(conf.getboolean(section, option, fallback=default))
        return None if value == default else value
    return None


__all__ = [
    "CONN_ID",
    "FILE_PARAMETERS",
    "INCLUDE_COST",
    "INPUT_TRANSFER",
    "LIPSYNC_MODEL",
    "OUTPUT_TRANSFER",
    "POLL_INTERVAL",
    "REACT_MODEL",
    "TEMPLATE_EXT",
    "TIMEOUT",
    "default_deferrable",
]
