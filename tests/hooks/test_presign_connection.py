"""Presigning signs with the connection the URL names, not boto's default credentials.

A presigned URL carries the signer's access key id in ``X-Amz-Credential``; signing is done
locally, so no S3 server is needed to see whose credentials were used.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("airflow.providers.amazon.aws.hooks.s3")

from airflow_provider_sync.object_storage import presign


def aws(key_id: str) -> str:
    return json.dumps(
        {"conn_type": "aws", "login": key_id, "password": "secret", "extra": {"region_name": "eu-west-1"}}
    )


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MY_CONN", aws("AKIAMYCONNECTION0001"))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws("AKIAAIRFLOWDEFAULT01"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIABOTODEFAULTCHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "boto-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def signer(url: str | None) -> str:
    assert url is not None
    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    return credential.split("/", 1)[0]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_an_s3_url_naming_a_connection_is_signed_with_that_connection(method: str) -> None:
    assert signer(presign("s3://my_conn@bucket/in/clip.mp4", method, 600)) == "AKIAMYCONNECTION0001"  # type: ignore[arg-type]


def test_an_s3_url_naming_no_connection_is_signed_with_boto_s_own_chain() -> None:
    assert signer(presign("s3://bucket/in/clip.mp4", "GET", 600)) == "AKIABOTODEFAULTCHAIN"
