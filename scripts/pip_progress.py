"""``pip install`` with a few progress lines instead of silence or hundreds of lines.

The Makefile creates ``.venv`` with it: ``python scripts/pip_progress.py <pip install args>``.
pip's own output is kept and shown in full only if the install fails; meanwhile one line
says how far it got (packages resolved, downloads, installing, done and how long it took).
On a terminal the line updates in place; elsewhere (CI logs) a new line every 25 packages.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: Outside a terminal, one line per this many packages resolved.
STEP = 25


@dataclass
class Progress:
    """What pip's output says so far."""

    resolved: int = 0
    downloaded: int = 0
    installing: int = 0
    installed: int = 0
    phase: str = "resolving"
    lines: list[str] = field(default_factory=list)

    def read(self, line: str) -> bool:
        """Take one line of pip's output; True when the summary changed enough to show."""
        self.lines.append(line)
        if line.startswith("Collecting "):
            self.resolved += 1
            return self.resolved % STEP == 0
        if line.lstrip().startswith("Downloading "):
            self.downloaded += 1
            return False
        if line.startswith("Installing collected packages:"):
            self.installing = len(line.split(":", 1)[1].split(","))
            self.phase = "installing"
            return True
        if line.startswith("Successfully installed"):
            self.installed = len(line.split()) - 2
            self.phase = "done"
            return True
        return False

    def summary(self) -> str:
        if self.phase == "resolving":
            fetched = f", {self.downloaded} downloaded" if self.downloaded else ""
            return f"resolving: {self.resolved} packages{fetched}"
        if self.phase == "installing":
            return f"installing {self.installing} packages (the slow part: unpacking and compiling)"
        return f"installed {self.installed} packages"


def progress_lines(lines: Iterable[str]) -> Iterator[str]:
    """The progress lines shown for pip's output ``lines`` (one per step, then the last)."""
    progress = Progress()
    last = ""
    for line in lines:
        if progress.read(line.rstrip("\n")):
            last = progress.summary()
            yield last
    final = progress.summary()
    if final != last:
        yield final


def main(argv: list[str]) -> int:
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    proc = subprocess.Popen(
        [*cmd, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    tty = sys.stdout.isatty()
    captured: list[str] = []

    def lines() -> Iterator[str]:
        for line in proc.stdout:  # type: ignore[union-attr]
            captured.append(line)
            yield line

    width = 0
    for text in progress_lines(lines()):
        shown = f"  {text} ({time.monotonic() - started:.0f} s)"
        if tty:
            sys.stdout.write("\r" + shown.ljust(width))
            width = len(shown)
        else:
            sys.stdout.write(shown + "\n")
        sys.stdout.flush()
    if tty:
        sys.stdout.write("\n")
    code = proc.wait()
    if code != 0:
        sys.stdout.write("".join(captured[-200:]))
        print(f"pip install failed (exit {code})", file=sys.stderr)
    else:
        print(f"  done in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
