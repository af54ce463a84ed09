"""``scripts/pip_progress.py``: what ``make`` shows while it installs the dev venv."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("pip_progress", REPO / "scripts" / "pip_progress.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pip_progress"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _pip_output(packages: int) -> list[str]:
    lines = ["Obtaining file:///repo", "  Installing build dependencies: started"]
    for n in range(packages):
        lines += [
            f"Collecting pkg{n}==1.{n} (from x)",
            f"  Downloading pkg{n}-1.{n}-py3-none-any.whl (10 kB)",
        ]
    names = ", ".join(f"pkg{n}" for n in range(packages))
    lines += [
        f"Installing collected packages: {names}",
        "Successfully installed " + " ".join(f"pkg{n}-1.{n}" for n in range(packages)),
    ]
    return lines


def test_a_line_per_25_packages_then_installing_then_done() -> None:
    shown = list(_module().progress_lines(_pip_output(60)))
    assert shown == [
        "resolving: 25 packages, 24 downloaded",
        "resolving: 50 packages, 49 downloaded",
        "installing 60 packages (the slow part: unpacking and compiling)",
        "installed 60 packages",
    ]


def test_an_install_with_nothing_to_do_still_says_where_it_ended() -> None:
    shown = list(_module().progress_lines(["Requirement already satisfied: a in ./x"]))
    assert shown == ["resolving: 0 packages"]


def test_a_failed_install_shows_pips_own_output_and_its_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "pip_progress.py"),
            "--no-index",
            str(tmp_path / "nothing.whl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "nothing.whl" in proc.stdout  # pip's reason, shown in full
    assert "pip install failed" in proc.stderr
