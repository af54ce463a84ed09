"""The emulator's HTTP face: Runware's task endpoint, served media, and an admin API.

The task endpoint is a plain ASGI callable rather than a Starlette view because several
faults need the raw protocol: a connection dropped halfway through an answer, a body that is
not the JSON it claims to be, a body sent a byte at a time, and headers with no body after
them. Each of those waits with ``await``, so one slow answer never holds up the others.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from airflow_provider_sync.testing.emulator.faults import FaultRule, stray_items
from airflow_provider_sync.testing.emulator.output import MIME_TYPES, describe, output_path
from airflow_provider_sync.testing.emulator.state import EmulatorState

#: HTTP status of an answer whose every task failed, by the first error's code. Runware's
#: errors page lists 401 and 402 for these; everything else a client can get wrong is a 400
#: (a reused taskUUID included: runware-typescript's tests show ``conflictTaskUUID`` as 400).
_ERROR_STATUS = {
    "missingApiKey": 401,
    "invalidApiKey": 401,
    "insufficientCredits": 402,
}
#: Longest string kept in the request log; uploads are base64 video.
_LOG_TEXT_LIMIT = 160


class InjectedReset(Exception):
    """Raised after a partial answer so the server drops the connection."""


def _redact(tasks: list[Any]) -> list[Any]:
    """Tasks as the request log keeps them: no key, and uploaded media cut short."""
    out = []
    for task in tasks:
        if isinstance(task, dict):
            task = {k: _shorten(v) for k, v in task.items()}
            if "apiKey" in task:
                task["apiKey"] = "***"
        out.append(task)
    return out


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _LOG_TEXT_LIMIT:
        return f"{value[:_LOG_TEXT_LIMIT]}...({len(value)} characters)"
    return value


def _error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    # Runware answers an all-error request with an empty ``data`` beside ``errors``.
    return {"data": [], "errors": [{"code": code, "message": message, **extra}]}


class TaskEndpoint:
    """``POST /v1``: a JSON array of tasks in, ``{"data", "errors"}`` out."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        body = raw.decode("utf-8", errors="replace")
        base_url = str(request.base_url).rstrip("/")
        state = self.state
        now = time.time()
        entry: dict[str, Any] = {"time": now, "method": "POST", "path": scope["path"]}
        with state.lock:
            state.stats["requests"] += 1
        try:
            tasks = json.loads(raw)
        except ValueError:
            tasks = None
        if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
            await self._answer(
                send,
                entry,
                400,
                _error_body("invalidRequestBody", "the body must be a JSON array of task objects"),
            )
            return
        entry["tasks"] = _redact(tasks)
        key = _api_key(request, tasks)
        if key is None or key not in state.config.api_keys:
            code = "missingApiKey" if key is None else "invalidApiKey"
            message = "no API key was sent" if key is None else "Invalid API key. Get one at runware.ai"
            body_out = _error_body(code, message, parameter="apiKey", taskType="authentication")
            await self._answer(send, entry, 401, body_out)
            return
        tasks = [t for t in tasks if t.get("taskType") != "authentication" or len(tasks) == 1]
        if state.rate_limited(now):
            entry["fault"] = "rate_limit(limit)"
            body_out = _error_body("rateLimitExceeded", "too many requests; slow down")
            await self._answer(send, entry, 429, body_out, {"retry-after": "1"})
            return
        fault = state.faults.for_request(tasks, body)
        if fault is not None:
            entry["fault"] = fault.kind
            if await self._fault_before(fault, send, entry):
                return
        data, errors = state.handle(tasks, base_url, body)
        if fault is not None and fault.kind == "omit_from_batch":
            data, errors = self._omit(fault, tasks, data, errors, entry)
        status = 200 if data or not errors else _ERROR_STATUS.get(str(errors[0].get("code")), 400)
        if fault is not None and fault.kind == "stray_items":
            # Beside the real answer, whose status stays what the real items make it.
            stray_data, stray_errors = stray_items(fault, str(tasks[0].get("taskType")), base_url)
            data, errors = data + stray_data, errors + stray_errors
        out: dict[str, Any] = {"data": data}
        if errors:
            out["errors"] = errors
        if fault is not None and fault.kind == "lost_response":
            entry["status"] = status
            await self._reset(send, entry)
            return
        if fault is not None and fault.kind == "lost_after_accept":
            body_out = _error_body("timeout", "request exceeded maximum queue wait time")
            await self._answer(send, entry, 504, body_out)
            return
        if fault is not None and fault.kind == "trickle":
            await self._trickle(send, receive, entry, status, json.dumps(out).encode(), fault.seconds)
            return
        if fault is not None and fault.kind == "stall":
            await self._stall(send, receive, entry, status, json.dumps(out).encode(), fault.seconds)
            return
        await self._answer(send, entry, status, out)

    def _omit(
        self,
        fault: FaultRule,
        tasks: list[dict[str, Any]],
        data: list[Any],
        errors: list[Any],
        entry: dict[str, Any],
    ) -> tuple[list[Any], list[Any]]:
        """Leave one getResponse task (``match``, or one drawn at random) out of the answer."""
        polled = [str(t.get("taskUUID")) for t in tasks if t.get("taskType") == "getResponse"]
        left_out = fault.match if fault.match in polled else self.state.faults.choice(polled)
        entry["omitted"] = left_out
        return (
            [d for d in data if d.get("taskUUID") != left_out],
            [e for e in errors if e.get("taskUUID") != left_out],
        )

    async def _fault_before(self, fault: FaultRule, send: Send, entry: dict[str, Any]) -> bool:
        """Apply a fault that happens instead of (or before) the work; True if it answered."""
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return False
        if fault.kind == "status":
            code = {400: "invalidRequest", 408: "timeout", 500: "internalServerError", 504: "timeout"}.get(
                fault.status, "serviceUnavailable"
            )
            body = _error_body(code, "injected fault")
            await self._answer(send, entry, fault.status, body)
        elif fault.kind == "rate_limit":
            body = _error_body("rateLimitExceeded", "too many requests (injected)")
            await self._answer(send, entry, 429, body, {"retry-after": f"{fault.retry_after:g}"})
        elif fault.kind == "reset":
            await self._reset(send, entry)
        elif fault.kind == "malformed":
            await self._raw(send, entry, 200, b'{"data": [{"taskType": "videoInference", "taskUU')
        else:
            return False
        return True

    async def _answer(
        self,
        send: Send,
        entry: dict[str, Any],
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        await self._raw(send, entry, status, json.dumps(body).encode(), headers)

    async def _raw(
        self,
        send: Send,
        entry: dict[str, Any],
        status: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        entry["status"] = status
        self.state.record(entry)
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})

    async def _start(self, send: Send, status: int, length: int) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _trickle(
        self, send: Send, receive: Receive, entry: dict[str, Any], status: int, payload: bytes, delay: float
    ) -> None:
        """The whole answer, one byte every ``delay`` seconds, until done or the client leaves."""
        await self._start(send, status, len(payload))
        gone = asyncio.ensure_future(_disconnected(receive))
        sent = 0
        try:
            for n in range(len(payload)):
                if n:
                    await asyncio.wait({gone}, timeout=delay)
                if gone.done():
                    break
                await send({"type": "http.response.body", "body": payload[n : n + 1], "more_body": True})
                sent += 1
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            entry["status"] = status
            entry["sent_bytes"] = sent
            entry["client_left"] = sent < len(payload)
            self.state.record(entry)

    async def _stall(
        self, send: Send, receive: Receive, entry: dict[str, Any], status: int, payload: bytes, limit: float
    ) -> None:
        """Headers, then no body until the client leaves (or ``limit`` s pass: then drop it)."""
        await self._start(send, status, len(payload))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({gone}, timeout=limit)
        finally:
            entry["status"] = status
            entry["client_left"] = gone.done()
            gone.cancel()
            self.state.record(entry)
        if not entry["client_left"]:
            raise InjectedReset("stalled answer dropped after its time limit")

    async def _reset(self, send: Send, entry: dict[str, Any]) -> None:
        entry.setdefault("status", 0)
        self.state.record(entry)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})
        raise InjectedReset("injected connection reset")


async def _disconnected(receive: Receive) -> None:
    """Return once the client has closed the connection (the request body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _api_key(request: Request, tasks: list[dict[str, Any]]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if tasks and tasks[0].get("taskType") == "authentication":
        key = tasks[0].get("apiKey")
        return str(key) if key else None
    return None


def create_app(state: EmulatorState) -> Starlette:
    """The emulator as an ASGI application."""
    endpoint = TaskEndpoint(state)

    async def media(request: Request) -> Response:
        name = request.path_params["name"]
        stem = name.split(".")[0]
        with state.lock:
            item = state.media.get(stem)
            job = next((j for j in state.jobs.values() if stem in j.videos), None)
        if item is not None and item.path is not None and item.path.exists():
            return FileResponse(item.path, media_type=item.mime)
        if job is None or not job.serves_video(time.time()):
            return JSONResponse({"error": "no such media"}, status_code=404)
        if state.config.output != "render":
            return JSONResponse(describe(job), headers={"x-emulator-output": "metadata"})
        path = job.output_path or output_path(job, state)
        ext = path.suffix.lstrip(".")
        return FileResponse(path, media_type=MIME_TYPES.get(ext, "application/octet-stream"))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "config": state.config.public()})

    async def requests_log(request: Request) -> Response:
        with state.lock:
            return JSONResponse(list(state.log))

    async def stats(request: Request) -> Response:
        return JSONResponse(state.summary())

    async def jobs(request: Request) -> Response:
        now, base = time.time(), str(request.base_url).rstrip("/")
        with state.lock:
            return JSONResponse([j.describe(now, base) for j in state.jobs.values()])

    async def job(request: Request) -> Response:
        with state.lock:
            found = state.jobs.get(request.path_params["uuid"])
            if found is None:
                return JSONResponse({"error": "no such job"}, status_code=404)
            return JSONResponse(found.describe(time.time(), str(request.base_url).rstrip("/")))

    async def complete(request: Request) -> Response:
        with state.lock:
            found = state.jobs.get(request.path_params["uuid"])
            if found is None:
                return JSONResponse({"error": "no such job"}, status_code=404)
            found.ready_at = time.time()
        return JSONResponse({"ok": True})

    async def fail(request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        with state.lock:
            found = state.jobs.get(request.path_params["uuid"])
            if found is None:
                return JSONResponse({"error": "no such job"}, status_code=404)
            found.fail = (
                str(body.get("code", "timeoutProvider")),
                str(body.get("message", "failed (admin)")),
            )
            found.ready_at = min(found.ready_at, time.time())
        return JSONResponse({"ok": True})

    async def deliver_now(request: Request) -> Response:
        with state.lock:
            found = state.jobs.get(request.path_params["uuid"])
            if found is None:
                return JSONResponse({"error": "no such job"}, status_code=404)
            if found.deliver_delay is None or found.delivery != "pending":
                return JSONResponse({"error": "no late delivery is pending for this job"}, status_code=409)
            found.deliver_now.set()
        return JSONResponse({"ok": True})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            with state.lock:
                state.faults.replace([])
            return JSONResponse({"rules": []})
        if request.method == "POST":
            try:
                rules = [FaultRule(**r) for r in await request.json()]
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            with state.lock:
                state.faults.replace(rules)
        with state.lock:
            return JSONResponse({"rules": state.faults.describe(), "injected": dict(state.faults.injected)})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                with state.lock:
                    state.config.update(**await request.json())
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.config.public())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    routes = [
        Route("/v1", endpoint, methods=["POST"]),
        Route("/v1/", endpoint, methods=["POST"]),
        Route("/", endpoint, methods=["POST"]),
        Route("/media/{name}", media, methods=["GET", "HEAD"]),
        Route("/_emulator/health", health),
        Route("/_emulator/requests", requests_log),
        Route("/_emulator/stats", stats),
        Route("/_emulator/jobs", jobs),
        Route("/_emulator/jobs/{uuid}", job),
        Route("/_emulator/jobs/{uuid}/complete", complete, methods=["POST"]),
        Route("/_emulator/jobs/{uuid}/fail", fail, methods=["POST"]),
        Route("/_emulator/jobs/{uuid}/deliver", deliver_now, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/config", config, methods=["GET", "POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
    ]
    return Starlette(routes=routes)
