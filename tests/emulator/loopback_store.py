"""A tiny object store on loopback, standing in for a presigned S3 URL in emulator tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 50_000
AUDIO = b"RIFF" + b"a" * 20_000


class Store:
    """A tiny object store on loopback: GET serves files, PUT keeps what it receives."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/in/clip.mp4": VIDEO, "/in/voice.wav": AUDIO}
        self.gets: list[str] = []
        self.puts: dict[str, bytes] = {}
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                store.gets.append(self.path)
                body = store.files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                store.puts[self.path.split("?")[0]] = self.rfile.read(length)
                status = 403 if "deny" in self.path else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
