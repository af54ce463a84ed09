"""Ask the real Runware the questions our protocol code answers by assumption.

``python -m airflow_provider_sync.live_check --out DIR`` sends only **free** requests with
the key in ``$RUNWARE_API_KEY``: ``getResponse`` for a random UUID, a batch of three, and
one request with a wrong key. It writes each answer to ``DIR`` in the fixture format of
``tests/fixtures/runware`` (status, body, what was sent, where and when), so the first user
with a key can turn the assumptions listed in ``docs/protocol.md`` into facts.

``--paid-render`` adds a one-second ``lipsync-2`` render (segments cut to one second of
Runware's own sample media) and a resubmission of the same ``taskUUID``. It first prints
the task and its list price, and sends nothing unless ``--yes`` is given as well.

The key is read from the environment, never from the command line (where ``ps`` shows
it), and never written to a file: every form of it (as is, URL- or JSON-escaped, base64,
inside its ``Bearer`` header) is replaced by ``[REDACTED]`` in what is recorded, in case a
server echoes the request.

The key only goes to Runware: ``https://api.runware.ai`` (or another ``runware.ai`` host over
https) as is; any other base URL only after ``--confirm-base-url`` repeats it, and plain
``http`` only to a loopback address (a local emulator), never across a network.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from airflow_provider_sync.hooks.runware import DEFAULT_BASE_URL
from airflow_provider_sync.models import build_video_inference

#: Runware's sample media from its Sync model page (a talking-head video and a voice).
SAMPLE_VIDEO = "c64351d5-4c59-42f7-95e1-eace013eddab"
SAMPLE_AUDIO = "b4c57832-2075-492b-bf89-9b5e3ac02503"
#: Runware's list price for lipsync-2, per second of audio.
PRICE_PER_SECOND_USD = 0.044
WRONG_KEY = "live-check-deliberately-wrong-key"
REDACTED = "[REDACTED]"
#: Hosts that are Runware's own: the key may go there over https without confirmation.
RUNWARE_HOST_SUFFIX = ".runware.ai"


def key_forms(key: str) -> list[str]:
    """Every spelling of ``key`` an echoing server could send back, longest first."""
    key = key.strip()
    if not key:
        return []
    raw = key.encode()
    forms = {
        key,
        quote(key, safe=""),
        quote_plus(key),
        json.dumps(key)[1:-1],
        json.dumps(key)[1:-1].replace("/", "\\/"),
        f"Bearer {key}",
    }
    for blob in (raw, f"Bearer {key}".encode()):
        encoded = base64.b64encode(blob).decode()
        forms.update({encoded, encoded.rstrip("="), base64.urlsafe_b64encode(blob).decode().rstrip("=")})
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(value: Any, key: str) -> Any:
    """``value`` (text, or JSON of any shape) with every form of ``key`` replaced."""
    forms = key_forms(key)
    if not forms:
        return value
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, REDACTED)
            if "%" in form:  # URL escapes may come back in either case
                value = value.replace(form.lower(), REDACTED)
        return value
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, dict):
        return {redact(k, key): redact(v, key) for k, v in value.items()}
    return value


def check_base_url(base_url: str, confirmed: str | None = None) -> str | None:
    """Why the key must not be sent to ``base_url``, or ``None`` when it may.

    :param confirmed: the URL the user repeated with ``--confirm-base-url``.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"{base_url!r} is not an http(s) URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "the base URL must not carry user info, a query or a fragment"
    if parts.scheme == "http" and not _is_loopback(host):
        return "plain http would send the key unencrypted: use https (http only to a loopback address)"
    if parts.scheme == "https" and (host == "runware.ai" or host.endswith(RUNWARE_HOST_SUFFIX)):
        return None
    if confirmed is None or confirmed.rstrip("/") != base_url.rstrip("/"):
        return (
            f"{base_url} is not Runware's API: to send your key there, repeat it with "
            f"--confirm-base-url {base_url}"
        )
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def paid_task() -> dict[str, Any]:
    """The one-second render ``--paid-render`` sends (validated like any operator request)."""
    segments = [
        {"startTime": 0.0, "endTime": 1.0, "ref": "voice", "audioStartTime": 0.0, "audioEndTime": 1.0}
    ]
    task = build_video_inference(
        model="lipsync-2",
        video=SAMPLE_VIDEO,
        audio=[{"id": "voice", "source": SAMPLE_AUDIO}],
        segments=segments,
        include_cost=True,
        task_uuid=str(uuid.uuid4()),
    )
    return task.to_payload()


class Recorder:
    """Sends requests and keeps each answer as a fixture file."""

    def __init__(self, base_url: str, key: str, out: Path, client: httpx.Client | None = None) -> None:
        self.base_url = base_url
        self.key = key
        self.out = out
        self.client = client or httpx.Client(timeout=60)
        self.written: list[Path] = []

    def ask(self, name: str, tasks: list[dict[str, Any]], *, key: str | None = None) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {key or self.key}",
            "User-Agent": "airflow-provider-sync live_check",
        }
        started = time.monotonic()
        answer = self.client.post(self.base_url, json=tasks, headers=headers)
        # A server may echo the request: no form of the key reaches the file.
        text = redact(redact(answer.text, self.key), key or self.key)
        try:
            body: Any = redact(redact(json.loads(text), self.key), key or self.key)
        except ValueError:
            body = None
        record = {
            "name": f"live-{name}",
            "source": f"live_check against {self.base_url} on {_today()}",
            "status": "recorded",
            "request": tasks,
            "http_status": answer.status_code,
            "body": body,
            "raw": None if body is not None else text[:2000],
            "seconds": round(time.monotonic() - started, 3),
        }
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"live-{name}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        self.written.append(path)
        print(f"{name}: HTTP {answer.status_code} -> {path}")
        return answer


def free_checks(recorder: Recorder) -> None:
    """The questions that cost nothing: unknown tasks, a batch, a refused key."""
    recorder.ask("get-response-unknown", [_poll()])
    recorder.ask("get-response-batch-of-three", [_poll(), _poll(), _poll()])
    recorder.ask("invalid-api-key", [_poll()], key=WRONG_KEY)


def paid_checks(
    recorder: Recorder, task: dict[str, Any], poll_every: float = 5.0, limit: float = 600
) -> None:
    """Submit ``task``, resubmit its taskUUID, and poll it to the end."""
    recorder.ask("submit", [task])
    recorder.ask("resubmit-same-task-uuid", [task])
    deadline = time.monotonic() + limit
    n = 0
    while time.monotonic() < deadline:
        time.sleep(poll_every)
        n += 1
        answer = recorder.ask(f"get-response-{n:02d}", [_poll(task["taskUUID"])])
        try:
            body = answer.json()
        except ValueError:
            continue
        items = body.get("data") if isinstance(body, dict) else None
        if any(isinstance(i, dict) and i.get("status") in ("success", "error") for i in items or []):
            return
    print("the render did not end within the limit; its answers so far are recorded")


def _poll(task_uuid: str | None = None) -> dict[str, Any]:
    return {"taskType": "getResponse", "taskUUID": task_uuid or str(uuid.uuid4())}


def _today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_sync.live_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL)
    parser.add_argument(
        "--confirm-base-url",
        metavar="URL",
        help="repeat a --base-url that is not Runware's own to send your key there anyway",
    )
    parser.add_argument("--out", type=Path, default=Path("runware-answers"))
    parser.add_argument("--key-env", default="RUNWARE_API_KEY", help="environment variable holding the key")
    parser.add_argument("--paid-render", action="store_true", help="also run a one-second paid render")
    parser.add_argument("--yes", action="store_true", help="really send the paid render")
    args = parser.parse_args(argv)
    key = os.environ.get(args.key_env, "").strip()
    if not key:
        print(f"set ${args.key_env} to your Runware API key", file=sys.stderr)
        return 2
    refusal = check_base_url(args.base_url, args.confirm_base_url)
    if refusal is not None:
        print(f"Not sending your key: {refusal}", file=sys.stderr)
        return 2
    task = paid_task() if args.paid_render else None
    if task is not None and not args.yes:
        print(f"--paid-render would send this task (list price about USD {PRICE_PER_SECOND_USD:.3f}):")
        print(json.dumps(task, indent=2))
        print("Nothing was sent. Add --yes to send it.")
        return 1
    recorder = Recorder(args.base_url.rstrip("/"), key, args.out)
    try:
        free_checks(recorder)
        if task is not None:
            paid_checks(recorder, task)
    finally:
        recorder.client.close()
    print(f"{len(recorder.written)} answers written to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
