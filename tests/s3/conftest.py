"""A real S3-protocol server on loopback (moto in server mode) for the object-storage suite.

``aws_default`` points at it, so the Amazon provider's ``S3Hook`` presigns URLs for it and
``ObjectStoragePath("s3://...")`` reads and writes it, exactly as against AWS.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

REGION = "us-east-1"


@dataclass
class S3Server:
    """The moto server: its URL, a boto3 client on it, and the connection that reaches it."""

    url: str
    client: Any
    conn_env: dict[str, str]

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, bucket: str, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` empty (deleting what an earlier test left); return its name."""
        try:
            for key in self.keys(name):
                self.client.delete_object(Bucket=name, Key=key)
        except self.client.exceptions.NoSuchBucket:
            self.client.create_bucket(Bucket=name)
        return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": url, "region_name": REGION},
    }
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        # ObjectStoragePath("s3://...") without a connection id uses boto's default chain:
        # these variables point it (and a connection-less S3Hook) at the server.
        env = {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        yield S3Server(url, client, env)
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The S3 server, with ``aws_default`` pointing at it for this test."""
    # No real AWS profile or session may leak into the tests (or requests out to AWS).
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.conn_env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(autouse=True)
def _quiet_moto_access_log() -> Iterator[None]:
    # moto's HTTP server logs each request line, presigned query strings included: that is
    # the object store's log, not ours, and would hide what the operator itself logs.
    import logging

    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)
