"""Screenshots of the ``runware`` connection form as Airflow's UI draws it (docs/connection.md).

Starts an Airflow API server on 127.0.0.1 in a throwaway AIRFLOW_HOME (from this venv), and
headless Chromium with its DevTools port on 127.0.0.1; opens Admin > Connections > Add
Connection, picks the type Runware, and saves one screenshot of the dialog per section
(standard fields, extra fields, extra fields JSON). Stops both processes at the end.

    python scripts/connection_form_screenshots.py [OUT_DIR]   # default docs/img

Needs Chromium (Debian: ``apt-get install chromium``) and ``websockets`` (installed with
Airflow's API server).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

REPO = Path(__file__).resolve().parent.parent
#: JavaScript giving an element's rectangle as [x, y, width, height].
RECT = "(() => {{ const r = ({}).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()"
ADD_BUTTON = (
    "Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() === 'Add Connection')"
)
DIALOG_TEXT = "document.querySelector('[role=dialog]').innerText"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 180) -> None:
    ends = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            if time.monotonic() > ends:
                raise
            time.sleep(1)


class Page:
    """Just enough of the DevTools protocol: evaluate, type, click, screenshot."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        i = next(self.ids)
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return dict(msg.get("result", {}))

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 90) -> None:
        ends = time.monotonic() + timeout
        while not await self.js(f"!!({expression})"):
            if time.monotonic() > ends:
                raise TimeoutError(expression)
            await asyncio.sleep(0.2)

    async def click(self, expression: str) -> None:
        """Click the middle of the element ``expression`` evaluates to, as a mouse would."""
        x, y, w, h = await self.js(RECT.format(expression))
        x, y = x + w / 2, y + h / 2
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        await asyncio.sleep(1.5)

    async def type(self, selector: str, text: str) -> None:
        await self.js(f"document.querySelector({selector!r}).focus()")
        await self.call("Input.insertText", text=text)

    async def screenshot(self, selector: str) -> bytes:
        """A PNG of the element ``selector`` names, with a small margin."""
        x, y, w, h = await self.js(RECT.format(f"document.querySelector({selector!r})"))
        clip = {"x": x - 8, "y": y - 8, "width": w + 16, "height": h + 16, "scale": 1}
        shot = await self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        return base64.b64decode(shot["data"])

    async def enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13
            )


def section(title: str) -> str:
    """JavaScript finding the form's section header ``title``."""
    headers = "document.querySelectorAll('[role=dialog] [aria-expanded]')"
    return f"Array.from({headers}).find(b => b.innerText.trim() === {title!r})"


async def capture(page_socket: str, ui: str) -> dict[str, bytes]:
    """The form's three sections as PNGs, by file name."""
    shots: dict[str, bytes] = {}
    async with websockets.connect(page_socket, max_size=50_000_000) as ws:
        page = Page(ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride", width=1400, height=1400, deviceScaleFactor=1, mobile=False
        )
        await page.call("Page.navigate", url=f"{ui}/connections")
        await page.wait_for(ADD_BUTTON)
        await page.js(f"{ADD_BUTTON}.click()")
        await page.wait_for("document.querySelector('[role=dialog] input[role=combobox]')")
        await page.type("[role=dialog] input[name=connection_id]", "runware_default")
        await page.type("[role=dialog] input[role=combobox]", "runware")
        await asyncio.sleep(1.5)
        await page.enter()
        await page.wait_for(f"{DIALOG_TEXT}.includes('Extra Fields JSON')")
        shots["connection-form-standard.png"] = await page.screenshot("[role=dialog]")
        await page.click(section("Extra Fields"))
        await page.wait_for(f"{DIALOG_TEXT}.includes('Tries per request')")
        shots["connection-form-extra-fields.png"] = await page.screenshot("[role=dialog]")
        await page.click(section("Extra Fields JSON"))
        shots["connection-form-extra-json.png"] = await page.screenshot("[role=dialog]")
    return shots


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found (Debian: apt-get install chromium)")
    home = Path(tempfile.mkdtemp(prefix="runware-form-"))
    api_port, devtools_port = free_port(), free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (home / "api-server.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [airflow, "api-server", "--port", str(api_port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        procs.append(
            subprocess.Popen(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={home / 'chromium'}",
                    f"--remote-debugging-port={devtools_port}",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        wait_http(f"http://127.0.0.1:{api_port}/api/v2/monitor/health")
        wait_http(f"http://127.0.0.1:{devtools_port}/json/version")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list"))
        page_socket = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        for name, png in asyncio.run(capture(page_socket, f"http://127.0.0.1:{api_port}")).items():
            (out / name).write_bytes(png)
            print(out / name)
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
