"""A real HTTP server on loopback that answers one byte at a time.

httpx's timeouts bound each read, so an answer that keeps trickling never trips them; only a
deadline over the whole exchange does. The server records how far it got and whether the
client hung up, so tests assert what happened, not how long it took.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any


def processing_answer(tasks: list[dict[str, Any]]) -> bytes:
    """A valid getResponse answer for ``tasks``, padded so that trickling it takes minutes."""
    data = [{"taskUUID": t.get("taskUUID"), "status": "processing"} for t in tasks]
    return json.dumps({"data": data}).encode() + b" " * 2000


class TrickleServer:
    """Answers every POST with HTTP 200 and ``body(tasks)``, one byte every ``gap`` seconds.

    :param gap: seconds between two bytes of the body (the headers go at once).
    """

    def __init__(self, gap: float = 0.1, body: Callable[[list[dict[str, Any]]], bytes] = processing_answer):
        self.gap = gap
        self.body = body
        self.requests = 0
        self.bytes_sent = 0
        self.complete = threading.Event()  # an answer was sent whole
        self.hung_up = threading.Event()  # a client closed the connection mid-answer
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __enter__(self) -> TrickleServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                tasks = _read_request(conn)
            except (OSError, ValueError):
                return
            self.requests += 1
            body = self.body(tasks)
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            try:
                conn.sendall(head)
                for i in range(len(body)):
                    if self._stop.wait(self.gap):
                        return
                    conn.sendall(body[i : i + 1])
                    self.bytes_sent += 1
            except OSError:
                self.hung_up.set()
                return
            self.complete.set()


def _read_request(conn: socket.socket) -> list[dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("closed before the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("closed before the body")
        body += chunk
    parsed = json.loads(body or b"[]")
    return parsed if isinstance(parsed, list) else []
