"""The runtime stands apart from the testing kit: no runtime module imports
``airflow_provider_sync.testing``, and the runtime works without the kit's dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_sync"
RUNTIME = sorted(p for p in PACKAGE.rglob("*.py") if "testing" not in p.relative_to(PACKAGE).parts)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_runtime_module_imports_the_testing_kit() -> None:
    assert len(RUNTIME) > 10
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(p) if m.startswith("airflow_provider_sync.testing")
        )
        for p in RUNTIME
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_runtime_imports_without_the_testing_extra() -> None:
    # Pretend the testing extra is not installed: these imports must fail if anything needs them.
    script = textwrap.dedent(
        """
        import sys
        for name in ("starlette", "uvicorn", "av", "numpy", "PIL"):
            sys.modules[name] = None
        import airflow_provider_sync.operators.sync
        import airflow_provider_sync.triggers.runware
        import airflow_provider_sync.hooks.runware
        import airflow_provider_sync.hooks.batch_poller
        import airflow_provider_sync.live_check
        import airflow_provider_sync.testing.pytest_plugin  # the plugin loads in every pytest run
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
