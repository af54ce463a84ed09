"""Bytes through the worker for a 100 MiB object-storage input and output, before and after
presigned URLs (issue 14). Prints its figures.

Runs against a real S3-protocol server on loopback (moto in server mode) with the Amazon
provider and ``ObjectStoragePath``:

* before (``input_transfer="upload"``, ``output_transfer="download"``): the worker reads the
  input from the bucket and streams it to Runware as a base64 JSON upload body (what
  :func:`airflow_provider_sync.media.upload_body` yields), then downloads the finished video
  from its URL and writes it to the bucket (:meth:`RunwareHook.download`);
* after (``auto`` on S3): the worker signs a GET and a PUT URL (no request, no bytes); a
  stand-in for Runware fetches the input through the GET URL and PUTs the video through the
  PUT URL, straight between it and the bucket.

Usage: ``.venv/bin/python benchmarks/presigned_transfer.py [--mib 100]``. The data is zeros
(cheap to generate; no compression is involved anywhere, so its content does not matter).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx

MIB = 1024 * 1024
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Counter:
    """Bytes the worker moved: read from the store, sent to Runware, downloaded and written."""

    def __init__(self) -> None:
        self.read = self.sent = self.downloaded = 0

    @property
    def total(self) -> int:
        return self.read + self.sent + self.downloaded


def _instrument(counter: Counter) -> None:
    from airflow_provider_sync import media
    from airflow_provider_sync.hooks import runware

    original_open = media.LocalMedia.open
    original_save = runware.save_stream

    class Counting:
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def read(self, size: int = -1) -> bytes:
            chunk = bytes(self._stream.read(size))
            counter.read += len(chunk)
            return chunk

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._stream.close()

    def counting_open(self: Any) -> Any:
        return Counting(original_open(self))

    def counting_save(chunks: Iterator[bytes], target: str) -> int:
        written = original_save(chunks, target)
        counter.downloaded += written
        return written

    media.LocalMedia.open = counting_open  # type: ignore[method-assign]
    runware.save_stream = counting_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=100, help="size of the input and the output (MiB)")
    args = parser.parse_args()
    size = args.mib * MIB

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            # The hook's download client needs a connection; no request goes to this host.
            "AIRFLOW_CONN_RUNWARE_DEFAULT": json.dumps(
                {"conn_type": "runware", "host": "http://127.0.0.1:9/v1", "password": "bench-key"}
            ),
        }
    )
    import boto3

    from airflow_provider_sync.hooks.runware import RunwareHook
    from airflow_provider_sync.media import inspect_local, upload_body
    from airflow_provider_sync.object_storage import presign

    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
    s3.create_bucket(Bucket="bench")
    blob = bytes(size)
    s3.put_object(Bucket="bench", Key="in/clip.mp4", Body=blob)
    s3.put_object(Bucket="bench", Key="cdn/render.mp4", Body=blob)  # Runware's finished video
    del blob
    source = "s3://bench/in/clip.mp4"
    counter = Counter()
    _instrument(counter)
    try:
        # ---- before: through the worker
        started = time.monotonic()
        item = inspect_local(source, "video", "video")  # ETag identity: no read
        for chunk in upload_body("bench-task", item):
            counter.sent += len(chunk)
        result_url = presign("s3://bench/cdn/render.mp4", "GET", 600)
        assert result_url is not None
        hook = RunwareHook()
        hook.download(result_url, "s3://bench/renders/worker.mp4")
        hook.close()
        before = (counter.read, counter.sent, counter.downloaded, time.monotonic() - started)

        # ---- after: presigned, the bytes go between "Runware" and the bucket
        counter.read = counter.sent = counter.downloaded = 0
        started = time.monotonic()
        get_url = presign(source, "GET", 3600)
        put_url = presign("s3://bench/renders/direct.mp4", "PUT", 3600)
        assert get_url is not None
        assert put_url is not None
        worker_after = counter.total
        runware_fetched = 0
        with httpx.stream("GET", get_url, timeout=120) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes(MIB):
                runware_fetched += len(chunk)

        def body() -> Iterator[bytes]:
            remaining = size
            while remaining:
                n = min(MIB, remaining)
                remaining -= n
                yield bytes(n)

        httpx.put(
            put_url, content=body(), headers={"Content-Length": str(size)}, timeout=120
        ).raise_for_status()
        delivered = s3.head_object(Bucket="bench", Key="renders/direct.mp4")["ContentLength"]
        after_seconds = time.monotonic() - started
    finally:
        server.stop()

    read, sent, downloaded, seconds = before
    print(f"{args.mib} MiB input and {args.mib} MiB output, S3 (moto on loopback):")
    # A downloaded video is also written to the bucket: it crosses the worker's network twice.
    total = read + sent + 2 * downloaded
    print(
        f"  before (upload + download through the worker): read {read / MIB:.1f} MiB from the "
        f"bucket, sent {sent / MIB:.1f} MiB to Runware (base64 JSON), downloaded {downloaded / MIB:.1f} "
        f"MiB and wrote it to the bucket; worker traffic {total / MIB:.1f} MiB in {seconds:.1f} s"
    )
    print(
        f"  after (presigned GET + PUT uploadEndpoint): worker traffic {worker_after / MIB:.1f} MiB; "
        f"Runware fetched {runware_fetched / MIB:.1f} MiB from and PUT {delivered / MIB:.1f} MiB to "
        f"the bucket directly ({after_seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
