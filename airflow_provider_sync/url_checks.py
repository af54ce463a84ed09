"""Which URLs from Runware's answers the worker may show, follow or fetch.

A ``videoURL`` becomes an extra link in the UI and is downloaded by the worker, so an answer
must not be able to point either at something else than a web resource (``javascript:``,
``file:``) or at plain http on the internet. Plain http is accepted only between loopback
hosts: an emulator on this machine talking to a worker on this machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import RunwareJobError


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_result_url(url: str, task_uuid: str, base_url: Callable[[], str]) -> None:
    """Refuse a result URL that is not https (http only from an emulator on loopback).

    :param base_url: gives the connection's API URL (read only for a plain http URL, which is
        accepted only when the API, too, is on loopback).
    :raises RunwareJobError: code ``invalidVideoURL``; the URL is never shown or fetched.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    base = urlsplit(base_url())
    if parts.scheme == "http" and is_loopback(parts.hostname) and is_loopback(base.hostname):
        return
    raise RunwareJobError(
        f"Runware reported success with a videoURL that is not an https URL "
        f"({describe_source(url)}); not using it",
        code="invalidVideoURL",
        task_uuid=task_uuid,
    )


__all__ = ["check_result_url", "is_loopback"]
