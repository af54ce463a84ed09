"""Where the worker and Runware may be sent: checks on every URL that leaves the deployment.

Three kinds of URL cross the deployment's edge, and each could be turned against it:

* a ``videoURL`` from Runware's answer becomes an extra link in the UI and is downloaded by
  the worker -- and the download follows redirects. Every hop is checked
  (:func:`check_fetch_url`), so an answer cannot point the worker at a cloud metadata
  service (``169.254.169.254``), a database on the private network or a local port;
* ``webhook_url`` and ``upload_endpoint`` are sent to Runware with the deployment's API key:
  Runware then POSTs or PUTs there. Checked at parse time for their shape
  (:func:`check_callback_url`) and at execute time against the connection
  (:func:`check_callback_target`): a run must not make the account's key deliver to an
  address on the worker's own network.

The rule is the same for all of them: ``https`` with a host; plain ``http`` and loopback
hosts (``127.0.0.0/8``, ``::1``, ``localhost``) only when the connection's own base URL is on
loopback (an emulator on this machine); and never an IP literal in a private, link-local,
shared, unspecified or multicast range. Host *names* are not resolved here (that would need
DNS on every check and still leave the answer open to change): see ``docs/security.md``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import RunwareAPIError, RunwareJobError, SyncValidationError

#: Longest callback URL accepted (``webhookURL``, ``uploadEndpoint``).
MAX_CALLBACK_URL_CHARS = 8_192

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Address ranges no URL from the deployment may name, beyond loopback (allowed only with an
#: emulator on loopback): private networks, link-local (cloud metadata services live at
#: 169.254.169.254 and fd00:ec2::254), shared address space (100.100.100.200 is one cloud's
#: metadata service), "this host", multicast.
_REFUSED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
# Forms the system resolver reads as IPv4 although they are not dotted quads: 2852039166,
# 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and loopback IP literals (``127.0.0.0/8``, ``::1``)."""
    if not host:
        return False
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = ip_literal(host)
    return ip is not None and ip.is_loopback


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` names when it is an IP literal in any form a resolver accepts."""
    host = host.rstrip(".").lower()
    try:
        ip: IPAddress = ipaddress.ip_address(host)
    except ValueError:
        if not _NUMERIC_HOST.fullmatch(host):
            return None
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _refused_range(ip: IPAddress) -> bool:
    return any(ip in net for net in _REFUSED_NETWORKS if net.version == ip.version)


def url_problem(url: str, *, api_on_loopback: bool) -> str | None:
    """Why ``url`` may not be used, or ``None`` when it may.

    :param api_on_loopback: the connection's base URL is on loopback (an emulator on this
        machine): plain http and loopback hosts are then allowed.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return "is not an http(s) URL with a host"
    loopback = is_loopback(host)
    if scheme == "http" and not (loopback and api_on_loopback):
        return (
            "uses plain http; only https is allowed (http only between loopback hosts, when the "
            "connection's base URL is on loopback too)"
        )
    if loopback and not api_on_loopback:
        return "points at this machine (a loopback host), and the connection is not on loopback"
    ip = ip_literal(host)
    if ip is not None and not ip.is_loopback and _refused_range(ip):
        return f"names a private, link-local or reserved address ({ip})"
    return None


def api_is_loopback(base_url: str) -> bool:
    """Whether a connection's base URL is on loopback (an emulator on this machine)."""
    try:
        return is_loopback(urlsplit(base_url).hostname)
    except ValueError:
        return False


def check_callback_url(value: str) -> str:
    """Check the shape of a URL Runware will call back (``webhookURL``) or PUT to (``uploadEndpoint``).

    Run when the request is validated, before the connection is known: the execute-time
    check against the connection is :func:`check_callback_target`.

    :raises ValueError: unless it is an https URL with a host, or http on a loopback host.
    """
    text = value.strip()
    if len(text) > MAX_CALLBACK_URL_CHARS or not text.isprintable() or " " in text:
        raise ValueError("must be a URL of at most 8192 printable characters without spaces")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme == "https" and host:
        return text
    if parts.scheme == "http" and host and is_loopback(host):
        return text
    raise ValueError("must be an https URL; plain http is accepted only on 127.0.0.1, ::1 or localhost")


def check_callback_target(url: str, field: str, base_url: str) -> None:
    """Check, before any request, that Runware may be sent to ``url`` under this connection.

    :param field: the operator parameter that gave it (``webhook_url``, ``upload_endpoint``).
    :param base_url: the connection's API URL.
    :raises SyncValidationError: naming ``field``; the URL is shown without its query.
    """
    problem = url_problem(url, api_on_loopback=api_is_loopback(base_url))
    if problem is not None:
        raise SyncValidationError(
            f"{field}: {describe_source(url)!r} {problem}; Runware would call it with this "
            "deployment's API key, so it is refused before anything is sent"
        )


def check_fetch_url(url: str, base_url: str, task_uuid: str | None = None) -> None:
    """Check a URL the worker is about to GET for a job's video: the ``videoURL`` and every
    redirect it leads to.

    :raises RunwareAPIError: code ``unsafeVideoURL`` (never retried: the same answer would
        lead to the same place); the URL is shown without its query.
    """
    problem = url_problem(url, api_on_loopback=api_is_loopback(base_url))
    if problem is not None:
        raise RunwareAPIError(
            f"not downloading the video from {describe_source(url)}: it {problem}",
            code="unsafeVideoURL",
            task_uuid=task_uuid,
        )


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


__all__ = [
    "MAX_CALLBACK_URL_CHARS",
    "api_is_loopback",
    "check_callback_target",
    "check_callback_url",
    "check_fetch_url",
    "check_result_url",
    "ip_literal",
    "is_loopback",
    "url_problem",
]
