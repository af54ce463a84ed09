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


def _runware_default() -> tuple[str | None, str | None]:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == "runware_default").one()
        return conn.host, conn.password


def test_the_connection_points_at_the_emulator_and_follows_its_port(airflow_home: Path) -> None:
    env = dict(os.environ)
    assert store_connection(env, "http://127.0.0.1:4001/v1", "key-1") == "emulator http://127.0.0.1:4001/v1"
    # The next start's emulator has another port: the stored connection follows it.
    assert store_connection(env, "http://127.0.0.1:4002/v1", "key-2") == "emulator http://127.0.0.1:4002/v1"
    assert _runware_default() == ("http://127.0.0.1:4002/v1", "key-2")


def test_a_connection_a_user_pointed_at_runware_is_kept(airflow_home: Path) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    env = dict(os.environ)
    store_connection(env, "http://127.0.0.1:4001/v1", "key-1")
    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == "runware_default").one()
        conn.host = "https://api.runware.ai/v1"
        conn.set_password("the-users-real-key")
    try:
        said = store_connection(env, "http://127.0.0.1:4003/v1", "key-3")
        assert said == "kept https://api.runware.ai/v1"
        assert _runware_default() == ("https://api.runware.ai/v1", "the-users-real-key")
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "runware_default").delete()


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
