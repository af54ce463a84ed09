"""The testing kit: a local Runware emulator, a throwaway Airflow home, DAG-run helpers and a
pytest plugin. Nothing in the provider's runtime imports it.

Install it with the ``testing`` extra (``pip install 'airflow-provider-sync[testing]'``),
which brings what the emulator needs (an ASGI server and, to render real video, PyAV).

* :mod:`airflow_provider_sync.testing.emulator`: the emulator itself
  (``python -m airflow_provider_sync.testing.emulator --port 8765``);
* :mod:`airflow_provider_sync.testing.pytest_plugin`: the ``runware_emulator`` and
  ``runware_run_dag`` fixtures, registered with pytest automatically (a ``pytest11`` entry
  point);
* :mod:`airflow_provider_sync.testing.dags`: run a DAG with ``dag.test()`` and read what it
  left behind (task states, XComs);
* :mod:`airflow_provider_sync.testing.sandbox`: an isolated Airflow home with a SQLite
  metadata database, for scripts and test suites that do not have one;
* :mod:`airflow_provider_sync.testing.samples`: sample input media (a talking-head video, a
  voice-like audio) of any length (``python -m airflow_provider_sync.testing.samples``).
"""

from __future__ import annotations
