"""``make airflow``'s pieces that need no running deployment: the connection it stores and
how it takes Ctrl-C. The whole command runs in ``tests/deployment/test_make_airflow.py``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from airflow_provider_sync.testing import local_airflow
from airflow_provider_sync.testing.local_airflow import store_connection

pytestmark = pytest.mark.integration


def _runware_default() -> tuple[str, str]:
    """The stored host and password column as they are in the DB (the password encrypted
    with the Airflow home's Fernet key, which this process may not have loaded)."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        host, password = session.execute(
            text("SELECT host, password FROM connection WHERE conn_id = 'runware_default'")
        ).one()
    return str(host), str(password)


def test_the_connection_follows_the_emulator_until_a_user_points_it_elsewhere(airflow_home: Path) -> None:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    env = dict(os.environ)
    try:
        said = store_connection(env, "http://127.0.0.1:4001/v1", "key-1")
        assert said == "emulator http://127.0.0.1:4001/v1"
        first = _runware_default()
        # The next start's emulator has another port: the stored connection follows it.
        said = store_connection(env, "http://127.0.0.1:4002/v1", "key-2")
        assert said == "emulator http://127.0.0.1:4002/v1"
        host, password = _runware_default()
        assert host == "http://127.0.0.1:4002/v1"
        assert password != first[1]  # the new key was stored
        # What editing it in the UI leaves (written as stored: this process may lack the
        # Home's Fernet key). The next start keeps it.
        with create_session() as session:
            session.execute(
                text(
                    "UPDATE connection SET host = 'https://api.runware.ai/v1', password = 'users-own', "
                    "is_encrypted = 0 WHERE conn_id = 'runware_default'"
                )
            )
        said = store_connection(env, "http://127.0.0.1:4003/v1", "key-3")
        assert said == "kept https://api.runware.ai/v1"
        assert _runware_default() == ("https://api.runware.ai/v1", "users-own")
    finally:
        with create_session() as session:
            session.execute(text("DELETE FROM connection WHERE conn_id = 'runware_default'"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_stops_and_later_ones_do_not_cut_the_cleanup_short(
    sig: signal.Signals, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(sig)
    stopped = cleaned = False
    with local_airflow._stop_on_signals():
        try:
            os.kill(os.getpid(), sig)
            signal.sigtimedwait([], 0)  # give the handler its turn
        except local_airflow._Stop as why:
            stopped = str(why) == sig.name
            os.kill(os.getpid(), sig)  # pressed again while stopping
            cleaned = True
    assert (stopped, cleaned) == (True, True)
    assert "Still stopping" in capsys.readouterr().out
    assert signal.getsignal(sig) == before
