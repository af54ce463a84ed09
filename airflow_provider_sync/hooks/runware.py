"""``RunwareHook``: the Airflow connection to Runware and the HTTP calls made through it."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from airflow_provider_sync import __version__, _compat
from airflow_provider_sync._compat import BaseHook, Connection
from airflow_provider_sync.connection_form import (
    DEFAULT_BASE_URL,
    UI_FIELD_BEHAVIOUR,
    check_hook_params,
    flask_widgets,
    read_settings,
)
from airflow_provider_sync.describe import describe_source
from airflow_provider_sync.exceptions import (
    RunwareAPIError,
    RunwareAuthError,
    RunwareError,
    RunwareInsufficientCreditsError,
    RunwareTransientError,
    SyncValidationError,
)
from airflow_provider_sync.media import CHUNK, LocalMedia, save_stream, upload_body
from airflow_provider_sync.protocol import (
    RunwareResponse,
    TaskState,
    ack_for,
    media_ack,
    parse_body,
    raise_request_error,
    read_batch,
)

MAX_RETRY_AFTER = 300.0
#: Seconds ``test_connection`` waits for its one probe.
TEST_CONNECTION_TIMEOUT = 10.0
# Runware accepts many tasks per request; beyond this, one slow answer delays too many jobs.
MAX_TASKS_PER_REQUEST = 250
#: Largest answer read from Runware (a getResponse answer for 250 tasks is far smaller).
MAX_ANSWER_BYTES = 16 * 2**20
#: An upload's whole exchange may take the connection's timeout plus one second per this
#: many bytes of body (base64 included): slow links still finish, a stalled one does not hang.
UPLOAD_MIN_BYTES_PER_SECOND = 256 * 1024
#: Redirects a video download follows (each hop checked before it is requested).
MAX_REDIRECTS = 10

log = logging.getLogger(__name__)
T = TypeVar("T")


class _UrlsWithoutSecrets(logging.Filter):
    """Shows the URLs in httpx's request log lines the way our own log lines do.

    httpx logs every request with its full URL at INFO. Airflow 3's logging configuration
    raises httpx's logger to WARNING, Airflow 2.11's does not: there a download from a
    presigned ``videoURL`` would put its signature in the task log. Without the query (and
    any password), the line still says what was fetched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                describe_source(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_UrlsWithoutSecrets())


class _WaitBackoffOrRetryAfter:
    """Exponential backoff with jitter, but never shorter than the server's ``Retry-After``,
    and never past the caller's deadline (``ends``, monotonic seconds)."""

    def __init__(self, initial: float, maximum: float, ends: float | None = None) -> None:
        self._backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self._maximum = maximum
        self._ends = ends

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._backoff(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # Honour the server's wish, but never park a task for more than a few minutes.
            wait = max(wait, min(float(retry_after), max(self._maximum, MAX_RETRY_AFTER)))
        if self._ends is not None:
            wait = min(wait, max(0.0, self._ends - time.monotonic()))
        return float(wait)


class _StopAtDeadline:
    """Stop retrying once the next attempt could not start before ``ends`` (monotonic)."""

    def __init__(self, ends: float) -> None:
        self._ends = ends

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return time.monotonic() + upcoming >= self._ends


def monotonic_deadline(deadline: float | None) -> float | None:
    """``deadline`` (epoch seconds, as :func:`time.time`) on the monotonic clock, or ``None``.

    Callers speak epoch seconds (a trigger's deadline survives a restart); measuring is done
    on the monotonic clock, which a wall-clock step cannot move.
    """
    if deadline is None:
        return None
    return time.monotonic() + (float(deadline) - time.time())


class RunwareHook(BaseHook):
    """Talks to Runware's task API with the credentials of an Airflow connection.

    The connection's **password** is the API key; its **host** is the base URL (a full URL
    such as ``http://127.0.0.1:8765/v1``, or a bare host name, in which case ``https`` and
    the schema field -- default ``v1`` -- are used). Optional extras, each a field of the
    connection form with its limits (:data:`~airflow_provider_sync.connection_form.CONN_FIELDS`):
    ``timeout`` (seconds per request), ``max_attempts``, ``retry_min_wait``, ``retry_max_wait``.

    One pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient` are created lazily and
    reused for every call on this hook. Transient faults (network errors, HTTP 429 honouring
    ``Retry-After``, 5xx, garbled answers) are retried with exponential backoff and jitter;
    authentication and validation errors are not.

    :param runware_conn_id: the Airflow connection to use.
    :param timeout: per-request timeout in seconds, overriding the connection's.
    :param max_attempts: attempts per call for transient faults, overriding the connection's.
    :param retry_min_wait: first backoff wait in seconds, overriding the connection's.
    :param retry_max_wait: longest backoff wait in seconds, overriding the connection's.
    :raises SyncValidationError: an override outside its limits (those of the connection
        form's fields, :data:`~airflow_provider_sync.connection_form.CONN_FIELDS`).
    """

    conn_name_attr = "runware_conn_id"
    default_conn_name = "runware_default"
    conn_type = "runware"
    hook_name = "Runware"

    def __init__(
        self,
        runware_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        retry_min_wait: float | None = None,
        retry_max_wait: float | None = None,
    ) -> None:
        super().__init__()
        self.runware_conn_id = runware_conn_id
        self._overrides = check_hook_params(
            {
                "timeout": timeout,
                "max_attempts": max_attempts,
                "retry_min_wait": retry_min_wait,
                "retry_max_wait": retry_max_wait,
            }
        )
        self._timeout_override = self._overrides.get("timeout")
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._download_client: httpx.Client | None = None
        self._settings: _ConnectionSettings | None = None

    # ---------------------------------------------------------------- connection form

    # Airflow 2 draws the form from these two; Airflow 3 from the provider info's
    # declarations, made from the same definitions (airflow_provider_sync.connection_form).

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels, hidden fields and placeholders for the ``runware`` connection form."""
        return copy.deepcopy(UI_FIELD_BEHAVIOUR)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's own fields (the extras' settings) as Flask AppBuilder inputs, for Airflow 2."""
        return flask_widgets()

    # ---------------------------------------------------------------- settings

    def _settings_from(self, conn: Connection, extra_json: dict[str, Any]) -> _ConnectionSettings:
        extra = _extras(extra_json or {})
        values = read_settings(extra, self.runware_conn_id, self._overrides)
        return _ConnectionSettings(
            api_key=_api_key(conn.password, self.runware_conn_id),
            base_url=_base_url(conn.host, conn.port, conn.schema, extra.get("base_url")),
            timeout=float(values["timeout"]),
            max_attempts=int(values["max_attempts"]),
            retry_min_wait=float(values["retry_min_wait"]),
            retry_max_wait=float(values["retry_max_wait"]),
        )

    @property
    def settings(self) -> _ConnectionSettings:
        """Resolved connection settings (reads the connection once, synchronously).

        :raises RunwareAuthError: the connection has no usable key, or Runware refused it.
        :raises SyncValidationError: an extra (``timeout``, ``max_attempts``, ``retry_min_wait``,
            ``retry_max_wait``) is not a number within its limits.
        """
        if self._settings is None:
            conn = self.get_connection(self.runware_conn_id)
            for form in _key_forms(conn.password):
                _compat.mask_secret(form)
            self._settings = self._settings_from(conn, conn.extra_dejson)
        return self._settings

    async def asettings(self) -> _ConnectionSettings:
        """Resolved connection settings, read without blocking the event loop."""
        if self._settings is None:
            conn = await self.aget_connection(self.runware_conn_id)
            for form in _key_forms(conn.password):
                await _compat.amask_secret(form)  # the synchronous one may block the triggerer's loop
            self._settings = self._settings_from(conn, await _compat.aextra_dejson(conn))
        return self._settings

    @property
    def base_url(self) -> str:
        """The API endpoint requests are POSTed to."""
        return self.settings.base_url

    # ---------------------------------------------------------------- clients

    def get_conn(self) -> httpx.Client:
        """The pooled synchronous client (created on first use)."""
        if self._client is None:
            s = self.settings
            self._client = httpx.Client(headers=s.headers(), timeout=s.httpx_timeout(), limits=_limits())
        return self._client

    async def aget_conn(self) -> httpx.AsyncClient:
        """The pooled asynchronous client (created on first use, in the running loop)."""
        if self._async_client is None:
            s = await self.asettings()
            self._async_client = httpx.AsyncClient(
                headers=s.headers(), timeout=s.httpx_timeout(), limits=_limits()
            )
        return self._async_client

    def close(self) -> None:
        """Close the synchronous clients."""
        for client in (self._client, self._download_client):
            if client is not None:
                client.close()
        self._client = self._download_client = None

    async def aclose(self) -> None:
        """Close the asynchronous client."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    # ---------------------------------------------------------------- raw calls

    def _retrying(self, ends: float | None = None) -> Retrying:
        return Retrying(**_retry_kwargs(self.settings, self.log, ends))

    def _attempt_ends(self, ends: float | None, budget: float | None = None) -> float:
        """When one attempt must be over: its own budget (the connection's timeout), or the
        caller's deadline if that comes first."""
        own = time.monotonic() + (self.settings.timeout if budget is None else budget)
        return own if ends is None else min(own, ends)

    def run_tasks(self, tasks: list[dict[str, Any]], *, deadline: float | None = None) -> RunwareResponse:
        """POST one array of tasks; retry transient faults; return the parsed answer.

        Each attempt -- connecting, sending, and reading the **whole** answer -- must end
        within the connection's ``timeout``; an answer that trickles in byte by byte is cut
        off at that point like one that never comes. With ``deadline`` the whole call,
        retries and their waits included, ends by then as well.

        Errors about single tasks stay in the answer (:class:`RunwareResponse` ``errors``);
        only answers about the request as a whole raise.

        :param deadline: epoch seconds (as :func:`time.time`) by which the call must be over.
        :raises RunwareAuthError: the connection has no usable key, or Runware refused it.
        :raises RunwareInsufficientCreditsError: the account cannot pay.
        :raises RunwareAPIError: the request was refused (HTTP 4xx naming no task).
        :raises RunwareTransientError: every attempt met a network fault, 408, 429, 5xx, a
            garbled answer or one not complete in time (``max_attempts`` tries with backoff,
            fewer when ``deadline`` comes first).
        """
        client = self.get_conn()
        url = self.settings.base_url
        ends = monotonic_deadline(deadline)

        def attempt() -> RunwareResponse:
            status, body, headers = _exchange(client, url, self._attempt_ends(ends), json=tasks)
            return _parse(status, body, headers)

        return self._retrying(ends)(attempt)

    async def arun_tasks(
        self, tasks: list[dict[str, Any]], *, deadline: float | None = None
    ) -> RunwareResponse:
        """Async :meth:`run_tasks`, for triggers: never blocks the event loop. Same limits,
        enforced with an asyncio timeout around each whole exchange. Raises the same."""
        s = await self.asettings()
        ends = monotonic_deadline(deadline)
        async for attempt in AsyncRetrying(**_retry_kwargs(s, self.log, ends)):
            with attempt:
                client = await self.aget_conn()  # per attempt: the pool may have been closed meanwhile
                status, body, headers = await _aexchange(client, s.base_url, tasks, self._attempt_ends(ends))
                return _parse(status, body, headers)
        raise AssertionError("unreachable: AsyncRetrying re-raises")  # pragma: no cover

    # ---------------------------------------------------------------- tasks

    def submit_task(self, task: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """Submit one task and return Runware's acknowledgement.

        A ``conflictTaskUUID`` answer (the job exists already, e.g. because an earlier
        attempt's answer was lost or was a 504 after Runware took the job) comes back as
        ``{"taskUUID": ..., "duplicate": True}``.

        :param deadline: as :meth:`run_tasks`.
        :raises RunwareAuthError: the key was refused.
        :raises RunwareAPIError: Runware refused the task (invalid parameter, no credit,
            moderation ...: typed by family, see ``docs/errors.md``).
        :raises RunwareTransientError: every attempt hit a transient fault.
        """
        return ack_for(self.run_tasks([task], deadline=deadline), task["taskUUID"])

    async def asubmit_task(self, task: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """Async :meth:`submit_task`."""
        return ack_for(await self.arun_tasks([task], deadline=deadline), task["taskUUID"])

    def get_task_states(
        self, task_uuids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, TaskState]:
        """``getResponse`` for several tasks, batched; one :class:`TaskState` per UUID.

        A task Runware does not know reads as ``not_found``; a failed job as ``error`` with
        its typed error. One task's odd item never changes another task's state: it reads as
        ``unreadable`` (``error`` says why) for that task alone. A task a batched answer
        leaves out is asked about alone before it counts as ``not_found`` (Runware's own
        clients ask one task per request; whether a batch answers every item is unpublished).

        :param deadline: epoch seconds by which the whole call must be over (see :meth:`run_tasks`).
        :raises RunwareAuthError: the key was refused.
        :raises RunwareInsufficientCreditsError: the account cannot pay.
        :raises RunwareAPIError: the request was refused without naming a task.
        :raises RunwareTransientError: every attempt hit a transient fault.
        """
        out: dict[str, TaskState] = {}
        for chunk in _chunks(list(task_uuids)):
            response = self.run_tasks([get_response_task(u) for u in chunk], deadline=deadline)
            raise_request_error(response, chunk)
            states = read_batch(response, chunk)
            for u in _left_out(response, chunk):
                states[u] = self._ask_alone(u, deadline)
            out.update(states)
        return out

    def _ask_alone(self, task_uuid: str, deadline: float | None) -> TaskState:
        try:
            response = self.run_tasks([get_response_task(task_uuid)], deadline=deadline)
            raise_request_error(response, [task_uuid])
        except (RunwareAuthError, RunwareInsufficientCreditsError):
            raise
        except RunwareError as exc:
            return TaskState(task_uuid, "unreadable", error=exc)
        return read_batch(response, [task_uuid])[task_uuid]

    async def aget_task_states(
        self, task_uuids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, TaskState]:
        """Async :meth:`get_task_states`."""
        out: dict[str, TaskState] = {}
        for chunk in _chunks(list(task_uuids)):
            response = await self.arun_tasks([get_response_task(u) for u in chunk], deadline=deadline)
            raise_request_error(response, chunk)
            states = read_batch(response, chunk)
            for u in _left_out(response, chunk):
                states[u] = await self._aask_alone(u, deadline)
            out.update(states)
        return out

    async def _aask_alone(self, task_uuid: str, deadline: float | None) -> TaskState:
        try:
            response = await self.arun_tasks([get_response_task(task_uuid)], deadline=deadline)
            raise_request_error(response, [task_uuid])
        except (RunwareAuthError, RunwareInsufficientCreditsError):
            raise
        except RunwareError as exc:
            return TaskState(task_uuid, "unreadable", error=exc)
        return read_batch(response, [task_uuid])[task_uuid]

    def get_task_state(self, task_uuid: str, *, deadline: float | None = None) -> TaskState:
        """``getResponse`` for one task.

        This is the call for a worker-side polling loop: pass the wait's ``deadline`` (epoch
        seconds) and the call returns or raises by then, however slowly Runware answers.

        :raises RunwareTransientError: as :meth:`get_task_states`, and when the task's item
            could not be read (an unknown status, a per-task ``serverBusy``).
        :raises RunwareError: as :meth:`get_task_states`.
        """
        return _single(self.get_task_states([task_uuid], deadline=deadline)[task_uuid])

    async def aget_task_state(self, task_uuid: str, *, deadline: float | None = None) -> TaskState:
        """Async :meth:`get_task_state`."""
        return _single((await self.aget_task_states([task_uuid], deadline=deadline))[task_uuid])

    # ---------------------------------------------------------------- media

    def upload_media(self, media: LocalMedia, *, deadline: float | None = None) -> dict[str, Any]:
        """Store a file at Runware (``mediaStorage`` upload); return ``mediaUUID`` and ``mediaURL``.

        The body is streamed from the file as base64, so memory stays flat whatever its size;
        a retried attempt reads the file again from the start, under a **new** ``taskUUID``:
        Runware refuses a reused one (``conflictTaskUUID``) and an upload cannot be looked
        up afterwards, so reusing it would fail on our own earlier attempt. An attempt whose
        answer was lost may leave an orphan stored file; it costs no render.

        Each attempt must be over within the connection's timeout plus one second per
        :data:`UPLOAD_MIN_BYTES_PER_SECOND` bytes of body; with ``deadline`` (epoch seconds)
        the whole call ends by then too.

        :raises RunwareAuthError: the key was refused.
        :raises RunwareAPIError: Runware refused the media.
        :raises RunwareTransientError: every attempt hit a transient fault, or the answer had
            no usable ``mediaUUID``.
        """
        client = self.get_conn()
        url = self.settings.base_url
        ends = monotonic_deadline(deadline)
        # base64 makes the body a third larger than the file.
        budget = self.settings.timeout + (media.size * 4 / 3) / UPLOAD_MIN_BYTES_PER_SECOND

        def attempt() -> dict[str, Any]:
            task_uuid = str(uuid.uuid4())
            attempt_ends = self._attempt_ends(ends, budget)
            status, body, headers = _exchange(
                client,
                url,
                attempt_ends,
                content=_within(upload_body(task_uuid, media), attempt_ends),
                headers={"Content-Type": "application/json"},
                timeout=self.settings.httpx_timeout(upload=True),
            )
            return media_ack(_parse(status, body, headers), task_uuid)

        return self._retrying(ends)(attempt)

    def download(self, url: str, target: str, *, task_uuid: str | None = None) -> int:
        """Stream the file at ``url`` to ``target`` (path or object-storage URL); return bytes written.

        Uses a client without the API key: result URLs point at Runware's CDN (or anywhere),
        and the key must not travel there. Redirects are followed here, one hop at a time, and
        every hop is checked first (:func:`~airflow_provider_sync.url_checks.check_fetch_url`:
        https only, plain http and loopback only with a connection on loopback, never a
        private or link-local address), so an answer cannot steer the worker anywhere else.

        :param task_uuid: the job whose video this is, for error messages.
        :raises RunwareAPIError: the URL (or a redirect) answered HTTP 4xx, was not allowed
            (code ``unsafeVideoURL``), or redirected more than :data:`MAX_REDIRECTS` times.
            Nothing is written then.
        :raises RunwareTransientError: every attempt met a network fault, 429 or 5xx.
        """
        from airflow_provider_sync.url_checks import check_fetch_url

        base_url = self.settings.base_url
        if self._download_client is None:
            # follow_redirects=False: each hop is checked below before it is requested.
            self._download_client = httpx.Client(
                timeout=self.settings.httpx_timeout(upload=True), follow_redirects=False, limits=_limits()
            )
        client = self._download_client

        def attempt() -> int:
            current = url
            for _ in range(MAX_REDIRECTS + 1):
                check_fetch_url(current, base_url, task_uuid)
                shown = describe_source(current)  # result URLs may be signed: never their query
                try:
                    with client.stream("GET", current) as resp:
                        if resp.is_redirect and resp.headers.get("location"):
                            current = str(resp.url.join(resp.headers["location"]))
                            continue
                        if resp.status_code == 429 or resp.status_code >= 500:
                            raise RunwareTransientError(f"HTTP {resp.status_code} downloading {shown}")
                        if resp.status_code >= 400 or resp.is_redirect:
                            raise RunwareAPIError(
                                f"HTTP {resp.status_code} downloading {shown}",
                                status_code=resp.status_code,
                                task_uuid=task_uuid,
                            )
                        return save_stream(resp.iter_bytes(CHUNK), target)
                except httpx.TransportError as exc:
                    raise _transport_error(exc) from None
            raise RunwareAPIError(
                f"downloading {describe_source(url)} redirected more than {MAX_REDIRECTS} times",
                code="tooManyRedirects",
                task_uuid=task_uuid,
            )

        return self._retrying()(attempt)

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and the URL with one harmless ``getResponse`` for a random task.

        One attempt with a short timeout: a person is waiting for the answer in the UI, and
        a server that is down should say so at once, not after a round of retries. The probe
        asks about a fresh random UUID v4 (Runware documents taskUUIDs as v4). The answer is
        given in our own words with Runware's code: a server's message is never repeated (one
        that echoes the request's headers would put the key on the screen).
        """
        probe = type(self)(
            self.runware_conn_id,
            timeout=min(TEST_CONNECTION_TIMEOUT, self._timeout_override or TEST_CONNECTION_TIMEOUT),
            max_attempts=1,
        )
        shown = "Runware"
        try:
            shown = _shown_url(probe.base_url)
            probe.get_task_state(str(uuid.uuid4()))
        except RunwareAuthError as exc:
            if exc.code in ("missingApiKey", "invalidApiKeyCharacters"):
                # Our own words, raised before any request. The UI tests a copy of the form
                # under a throwaway connection id: don't name it.
                return False, exc.message.replace(f"connection {self.runware_conn_id!r}", "this connection")
            return False, f"Runware refused the API key ({_refusal(exc, probe)})."
        except RunwareError as exc:
            return False, f"Could not reach Runware at {shown}: {_refusal(exc, probe)}."
        except SyncValidationError as exc:
            # A field of the form out of its limits, in our own words (it names the field).
            text = "; ".join(exc.problems)
            return False, text.replace(f"connection {self.runware_conn_id!r}", "this connection")
        except Exception as exc:  # connection form: any failure is an answer, not a crash
            return False, f"{type(exc).__name__} while testing the connection"
        finally:
            probe.close()
        return True, f"Connected to {shown}: Runware accepted the API key."


_CODE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def _refusal(exc: RunwareError, hook: RunwareHook) -> str:
    """``code invalidApiKey, HTTP 401``: what an error says, in our words, without the key."""
    parts = []
    code = exc.code or ""
    forms = _key_forms(hook._settings.api_key if hook._settings else None)
    if _CODE_SHAPE.fullmatch(code) and not any(f and f in code for f in forms):
        parts.append(f"code {code}")
    if exc.status_code:
        parts.append(f"HTTP {exc.status_code}")
    return ", ".join(parts) or "no answer"


def _shown_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


class _ConnectionSettings:
    """What a hook needs from its connection; ``repr`` never shows the key."""

    __slots__ = ("api_key", "base_url", "max_attempts", "retry_max_wait", "retry_min_wait", "timeout")

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        max_attempts: int,
        retry_min_wait: float,
        retry_max_wait: float,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.retry_min_wait = retry_min_wait
        self.retry_max_wait = retry_max_wait

    def __repr__(self) -> str:
        return f"<RunwareSettings base_url={self.base_url!r} timeout={self.timeout}>"

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"airflow-provider-sync/{__version__}",
        }

    def httpx_timeout(self, upload: bool = False) -> httpx.Timeout:
        # Connecting should be quick; reading an answer may take the whole budget. Moving a
        # whole video can take far longer than one answer: only each read/write is bounded.
        if upload:
            return httpx.Timeout(max(self.timeout, 300.0), connect=min(10.0, self.timeout))
        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))


def _extras(extra: dict[str, Any]) -> dict[str, Any]:
    # Older connection forms stored custom fields as ``extra__runware__<name>``.
    prefix = "extra__runware__"
    return {**{k[len(prefix) :]: v for k, v in extra.items() if k.startswith(prefix)}, **extra}


def _base_url(host: str | None, port: int | None, schema: str | None, extra_url: Any) -> str:
    if extra_url:
        return str(extra_url).rstrip("/")
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        parts = urlsplit(host)
        netloc = parts.netloc if (parts.port or not port) else f"{parts.netloc}:{port}"
        path = parts.path.rstrip("/") or "/" + (schema or "v1")
        return f"{parts.scheme}://{netloc}{path}"
    netloc = f"{host}:{port}" if port else host
    return f"https://{netloc}/{(schema or 'v1').strip('/')}"


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30)


def _retry_kwargs(s: _ConnectionSettings, logger: Any, ends: float | None = None) -> dict[str, Any]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        logger.warning(
            "Runware request failed (%s); retry %d/%d in %.1fs",
            exc,
            state.attempt_number,
            s.max_attempts - 1,
            wait,
        )

    stop: Any = stop_after_attempt(s.max_attempts)
    if ends is not None:
        stop = stop | _StopAtDeadline(ends)
    return {
        "retry": retry_if_exception_type(RunwareTransientError),
        "wait": _WaitBackoffOrRetryAfter(s.retry_min_wait, s.retry_max_wait, ends),
        "stop": stop,
        "reraise": True,
        "before_sleep": before_sleep,
    }


def _transport_error(exc: httpx.TransportError) -> RunwareTransientError:
    # Only the exception's type: httpx's message may quote the request's headers (an illegal
    # header value, for one), and so the key.
    return RunwareTransientError(
        f"{type(exc).__name__} talking to Runware (no answer received)", code="connectionFailed"
    )


def _too_slow() -> RunwareTransientError:
    return RunwareTransientError(
        "Runware's answer was not complete within the time allowed (a slow or stalled answer)",
        code="timeout",
    )


def _too_large() -> RunwareTransientError:
    return RunwareTransientError(
        f"Runware's answer was larger than {MAX_ANSWER_BYTES // 2**20} MiB; not read", code="answerTooLarge"
    )


def _within(chunks: Iterator[bytes], ends: float) -> Iterator[bytes]:
    """``chunks`` (a request body), stopped once ``ends`` (monotonic) has passed."""
    for chunk in chunks:
        if time.monotonic() > ends:
            raise _too_slow()
        yield chunk


def _httpx_timeout(left: float, base: httpx.Timeout | None) -> httpx.Timeout:
    """No single read, write or connect may outlast the time left for the whole exchange."""
    if base is None:
        return httpx.Timeout(left, connect=min(10.0, left))
    return httpx.Timeout(
        connect=min(base.connect or left, left),
        read=min(base.read or left, left),
        write=min(base.write or left, left),
        pool=min(base.pool or left, left),
    )


def _exchange(
    client: httpx.Client,
    url: str,
    ends: float,
    *,
    timeout: httpx.Timeout | None = None,
    **request: Any,
) -> tuple[int, bytes, dict[str, str]]:
    """POST and read the whole answer by ``ends`` (monotonic seconds).

    The body is streamed and the clock checked between chunks: httpx's timeouts bound each
    read, not the exchange, so an answer trickling in a byte at a time would never trip them.
    """
    left = ends - time.monotonic()
    if left <= 0:
        raise _too_slow()
    try:
        with client.stream("POST", url, timeout=_httpx_timeout(left, timeout), **request) as resp:
            body = bytearray()
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise _too_large()
                if time.monotonic() > ends:
                    raise _too_slow()
            return resp.status_code, bytes(body), dict(resp.headers)
    except httpx.TimeoutException:
        raise _too_slow() from None
    except httpx.TransportError as exc:
        raise _transport_error(exc) from None


async def _aexchange(
    client: httpx.AsyncClient, url: str, tasks: list[dict[str, Any]], ends: float
) -> tuple[int, bytes, dict[str, str]]:
    """Async :func:`_exchange`: the whole exchange runs under one asyncio timeout."""
    left = ends - time.monotonic()
    if left <= 0:
        raise _too_slow()

    async def exchange() -> tuple[int, bytes, dict[str, str]]:
        async with client.stream("POST", url, json=tasks, timeout=_httpx_timeout(left, None)) as resp:
            body = bytearray()
            chunks: AsyncIterator[bytes] = resp.aiter_bytes()
            async for chunk in chunks:
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise _too_large()
            return resp.status_code, bytes(body), dict(resp.headers)

    try:
        return await asyncio.wait_for(exchange(), timeout=left)
    except asyncio.TimeoutError:
        raise _too_slow() from None
    except httpx.TimeoutException:
        raise _too_slow() from None
    except httpx.TransportError as exc:
        raise _transport_error(exc) from None


def _parse(status: int, body: bytes, headers: dict[str, str]) -> RunwareResponse:
    """:func:`parse_body`, with a last guard: whatever goes wrong reading an answer is a
    transient fault of that answer, never an untyped crash of the caller."""
    try:
        return parse_body(status, body, headers)
    except RunwareError:
        raise
    except Exception as exc:
        log.warning("Could not read Runware's answer (HTTP %s): %s", status, type(exc).__name__)
        raise RunwareTransientError(
            f"could not read Runware's answer ({type(exc).__name__})", status_code=status
        ) from None


def _left_out(response: RunwareResponse, uuids: list[str]) -> list[str]:
    """Tasks of a batch the answer says nothing about (a batch of one is answered as it is)."""
    if len(uuids) < 2:
        return []
    return [u for u in uuids if not response.mentions(u)]


def _single(state: TaskState) -> TaskState:
    if state.status == "unreadable":
        raise state.error or RunwareTransientError(f"unreadable answer about task {state.task_uuid}")
    return state


def _key_forms(password: str | None) -> list[str]:
    """Every form of the key that could show up in a log: as stored, trimmed, URL-encoded,
    and inside its header (so a header quoted by some library is masked whole)."""
    raw = password or ""
    key = raw.strip()
    if not key:
        return []
    return list(dict.fromkeys([raw, key, quote(key, safe=""), f"Bearer {key}"]))


def _api_key(password: str | None, conn_id: str) -> str:
    """The connection's API key, cleaned and checked (the caller registers its forms with the
    secrets masker first, see :func:`_key_forms`).

    Secrets backends and files often add a trailing newline: surrounding whitespace is
    dropped. A key with other non-printable or non-ASCII characters cannot travel in an HTTP
    header, and httpx's error for it would quote the header: refuse it here, without
    quoting it.
    """
    key = (password or "").strip()
    if not key:
        raise RunwareAuthError(
            f"connection {conn_id!r} has no API key: set its password (API key) field",
            code="missingApiKey",
        )
    if not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise RunwareAuthError(
            f"connection {conn_id!r} has an API key with non-printable or non-ASCII characters "
            f"({len(key)} characters); paste the key again without them",
            code="invalidApiKeyCharacters",
        )
    return key


def get_response_task(task_uuid: str) -> dict[str, Any]:
    """The ``getResponse`` task asking about ``task_uuid``."""
    return {"taskType": "getResponse", "taskUUID": task_uuid}


def _chunks(items: list[T], size: int = MAX_TASKS_PER_REQUEST) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


__all__ = ["DEFAULT_BASE_URL", "RunwareHook"]
