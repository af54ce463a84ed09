"""Presigned URLs for object-storage media, so video bytes never pass through the worker.

Runware fetches URL inputs itself and PUTs a finished video to a task's ``uploadEndpoint``.
For an object-storage input or ``output_path`` we can hand it a short-lived signed URL
instead of streaming the file through the worker (as base64 JSON on the way in, and a
download plus an upload on the way out).

Presigning is implemented for ``s3://`` (and ``s3a://``) through the Amazon provider's
:class:`~airflow.providers.amazon.aws.hooks.s3.S3Hook`, with the connection the object's
``ObjectStoragePath`` uses (the one the URL names, else boto's default credential chain). Other stores, or an
installation without the Amazon provider, cannot presign here: :func:`presign` returns
``None`` and the caller falls back to moving the bytes through the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from airflow_provider_sync.exceptions import SyncValidationError

#: How a parameter may ask media to move: ``auto`` presigns where the store can and falls
#: back to the worker otherwise; ``presign`` fails when it cannot; ``upload`` (inputs) and
#: ``download`` (outputs) always move the bytes through the worker, as before.
Transfer = Literal["auto", "presign", "upload", "download"]
INPUT_TRANSFERS: tuple[str, ...] = ("auto", "presign", "upload")
OUTPUT_TRANSFERS: tuple[str, ...] = ("auto", "presign", "download")

#: Schemes :func:`presign` can sign.
PRESIGNABLE_SCHEMES: frozenset[str] = frozenset({"s3", "s3a"})
#: Lifetime of a presigned GET: long enough for Runware to start the job and fetch it.
INPUT_URL_SECONDS = 3600
#: The S3 operation each presigned HTTP method performs (SigV4 signs the method too: a URL
#: signed for HEAD cannot read the object).
_CLIENT_METHODS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object"}
#: SigV4 URLs live at most seven days.
MAX_URL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class ObjectRef:
    """An object named by an object-storage URL.

    :param scheme: ``s3``, ``gs`` ...
    :param bucket: the bucket (or container).
    :param key: the object's key inside it.
    :param conn_id: the Airflow connection the URL selects (``s3://conn@bucket/key``), if any.
    """

    scheme: str
    bucket: str
    key: str
    conn_id: str | None = None

    @property
    def url(self) -> str:
        """``scheme://bucket/key``, without any connection id."""
        return f"{self.scheme}://{self.bucket}/{self.key}"


def parse_object_url(url: str) -> ObjectRef | None:
    """The object a ``scheme://[conn@]bucket/key`` URL names; ``None`` for anything else."""
    text = str(url).strip()
    if "://" not in text or text.startswith(("file://", "local://", "http://", "https://", "data:")):
        return None
    parts = urlsplit(text)
    if not parts.scheme or not parts.hostname or parts.query or "::" in text:
        return None
    conn_id = parts.username or None
    bucket = parts.netloc.rsplit("@", 1)[-1]
    return ObjectRef(parts.scheme.lower(), bucket, parts.path.lstrip("/"), conn_id)


def can_presign(url: str) -> bool:
    """True when :func:`presign` can sign ``url``: its store is supported and its provider installed."""
    ref = parse_object_url(url)
    if ref is None or ref.scheme not in PRESIGNABLE_SCHEMES or not ref.key:
        return False
    try:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401
    except ImportError:
        return False
    return True


def presign(url: str, method: Literal["GET", "PUT", "HEAD"], expires_in: int) -> str | None:
    """A URL that lets its holder ``GET`` (read), ``PUT`` (write) or ``HEAD`` (see whether it
    exists, and its size) the object at ``url``.

    No network call: the signature is computed locally from the connection's credentials.
    Nothing about the content type is signed, so the uploader may send any ``Content-Type``.

    :param expires_in: seconds the URL stays valid (capped at seven days).
    :returns: the signed URL, or ``None`` when this store cannot presign here.
    """
    if not can_presign(url):
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    ref = parse_object_url(url)
    assert ref is not None  # can_presign checked it
    # The same connection ObjectStoragePath reads the object with: the one the URL names, or
    # none (boto's own credential chain), so what is signed is what was inspected.
    # SigV4 always: its URLs expire within seven days (SigV2 ones may live for years).
    hook = S3Hook(aws_conn_id=ref.conn_id, config={"signature_version": "s3v4"})
    signed = hook.generate_presigned_url(
        client_method=_CLIENT_METHODS[method],
        params={"Bucket": ref.bucket, "Key": ref.key},
        expires_in=max(1, min(int(expires_in), MAX_URL_SECONDS)),
        http_method=method,
    )
    return str(signed) if signed else None


def check_transfer(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """Validate an ``input_transfer`` / ``output_transfer`` value (case-insensitive).

    :raises SyncValidationError: naming the parameter and the allowed values.
    """
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in allowed:
        raise SyncValidationError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return str(text)


__all__ = [
    "INPUT_TRANSFERS",
    "INPUT_URL_SECONDS",
    "MAX_URL_SECONDS",
    "OUTPUT_TRANSFERS",
    "PRESIGNABLE_SCHEMES",
    "ObjectRef",
    "Transfer",
    "can_presign",
    "check_transfer",
    "parse_object_url",
    "presign",
]
