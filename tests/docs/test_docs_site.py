"""The documentation as a reader sees it: built pages, and the Markdown files on disk.

The example pages once showed ``--8 < --"example_dags/..."`` instead of the DAG's code (a
formatter had rewritten the include line) and the strict build still passed; read on disk
(GitHub, an editor) they showed the include lines. The pages now hold copies of the code,
written by ``scripts/docs_snippets.py``. These tests build the site into a temporary folder
and read the HTML, so a page that shows an include line, reST markup or a missing region
fails here, and they fail when a copy on disk differs from the code it copies.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLE_DAGS = REPO / "example_dags"
DAG_FILES = sorted(EXAMPLE_DAGS.glob("example_sync_*.py"))

#: Hosts the pages may link to. A new external link must be added here on purpose, after
#: checking that the page it points at exists.
KNOWN_HOSTS = {
    "sync.so",  # the vendor of the models
    "runware.ai",  # the API the provider talks to
    "squidfunk.github.io",  # the theme's "Made with Material for MkDocs" footer
    "fonts.googleapis.com",  # the theme's fonts
    "fonts.gstatic.com",
}

# Any spelling of the snippet marker: --8<--, --8 < --, -8<-, and section markers.
SNIPPET_MARKER = re.compile(r"-+\s*8\s*<\s*-+|\[\s*(?:start|end)\s*:\s*[a-z][-_0-9a-z]*\s*\]", re.I)
REST_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|param|raises|returns|rtype):")
REST_LITERAL_BLOCK = re.compile(r"\S::(?:\s|$)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly, as ``make docs`` does."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)


def _main(page: Path) -> str:
    """The article of a page: what the reader reads, without the theme's navigation."""
    text = page.read_text(encoding="utf-8")
    found = re.search(r"<article[^>]*>(.*)</article>", text, re.S)
    assert found, f"{page}: no <article>"
    return found.group(1)


def _text(fragment: str) -> str:
    fragment = re.sub(r"<(script|style)\b.*?</\1>", "", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _prose(fragment: str) -> str:
    """Visible text outside code: where reST markup would show up literally."""
    return _text(re.sub(r"<(pre|code)\b.*?</\1>", " ", fragment, flags=re.S))


def _code_blocks(fragment: str) -> list[str]:
    """The text of every code block, as the reader sees (and copies) it."""
    return [_text(block) for block in re.findall(r"<pre\b.*?</pre>", fragment, re.S)]


def _region(dag_file: Path, name: str) -> str:
    """The lines between ``# --8<-- [start:name]`` and ``# --8<-- [end:name]``, dedented."""
    lines = dag_file.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [start:{name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [end:{name}]"]
    pair = f"{dag_file.name}: needs one '# --8<-- [start:{name}]' ... '# --8<-- [end:{name}]' pair"
    assert len(starts) == 1, pair
    assert len(ends) == 1, pair
    assert starts[0] < ends[0], pair
    body = [line for line in lines[starts[0] + 1 : ends[0]] if not SNIPPET_MARKER.search(line)]
    return textwrap.dedent("\n".join(body))


def _example_page(site: Path, dag_file: Path) -> Path:
    page = site / "examples" / dag_file.stem / "index.html"
    assert page.exists(), f"{dag_file.name} has no page: add docs/examples/{dag_file.stem}.md to the nav"
    return page


def test_the_example_dags_are_there() -> None:
    assert len(DAG_FILES) >= 7


def test_no_page_shows_a_snippet_include_instead_of_code(site: Path) -> None:
    # Prose and code blocks; inline code may name the include syntax (development.md does).
    shown = {}
    for page in _pages(site):
        article = _main(page)
        hits = SNIPPET_MARKER.findall(_prose(article) + "\n".join(_code_blocks(article)))
        if hits:
            shown[str(page.relative_to(site))] = hits
    assert shown == {}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_each_example_page_shows_its_operator_call(site: Path, dag_file: Path) -> None:
    short = dag_file.stem.removeprefix("example_sync_")
    task = _region(dag_file, f"howto_operator_sync_{short}")
    # The operators' examples show the operator; the @task example shows the render API.
    calls = r"Sync(?:Lipsync|React)Operator\b|\bsubmit\(hook, request"
    assert re.search(calls, task), "the marked task holds no operator call (nor a render API call)"
    blocks = _code_blocks(_main(_example_page(site, dag_file)))
    assert any(task.strip() in block for block in blocks), f"{dag_file.name}: the task is not on its page"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_each_example_page_shows_its_whole_dag(site: Path, dag_file: Path) -> None:
    whole = _region(dag_file, dag_file.stem)
    assert f'dag_id="{dag_file.stem}"' in whole
    blocks = _code_blocks(_main(_example_page(site, dag_file)))
    assert any(whole.strip() in block for block in blocks), f"{dag_file.name}: the DAG is not on its page"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_each_example_page_lists_the_params_its_dag_has(dag_file: Path) -> None:
    page = (DOCS / "examples" / f"{dag_file.stem}.md").read_text(encoding="utf-8")
    section = page.split("## Params", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    declared = set(re.findall(r'^\s+"(\w+)": Param\(', dag_file.read_text(encoding="utf-8"), re.M))
    assert declared, f"{dag_file.name}: no params found"
    assert listed == declared


def test_no_page_shows_rest_markup(site: Path) -> None:
    found = {}
    for page in _pages(site):
        prose = _prose(_main(page))
        hits = REST_ROLE.findall(prose) + REST_LITERAL_BLOCK.findall(prose)
        if hits:
            found[str(page.relative_to(site))] = hits[:5]
    assert found == {}


def test_the_api_reference_documents_the_public_classes(site: Path) -> None:
    article = _main(site / "api" / "index.html")
    text = _text(article)
    for name in (
        "RunwareHook",
        "SyncLipsyncOperator",
        "SyncReactOperator",
        "SyncBaseOperator",
        "SyncRenderSensor",
        "SyncSubmission",
        "RunwareWaitedJobError",
        "RunwareSensorTimeoutError",
        "RunwareTaskTrigger",
        "SyncValidationError",
        "RunwareError",
        "RunwareTransientError",
        "RunwareAPIError",
        "RunwareAuthError",
        "RunwareInsufficientCreditsError",
        "RunwareJobError",
        "RunwareTimeoutError",
        "VideoInferenceTask",
        "SyncResult",
        "build_video_inference",
        # The testing kit: what docs/testing.md and its conftest use.
        "run_dag",
        "DagResult",
        "sandbox_env",
        "migrate_db",
        "load_dag",
        "runware_emulator",
        "runware_run_dag",
        "make_sample_video",
        "make_sample_audio",
        "EmulatorServer",
        "EmulatorAdmin",
        "EmulatorConfig",
    ):
        assert re.search(rf"\b{name}\b", text), f"{name} is not on the API page"
    # Sphinx-style ``:param x:`` fields are parsed into parameter tables, not shown as text.
    tables = [_text(t) for t in re.findall(r"<table\b.*?</table>", article, re.S)]
    assert any("runware_conn_id" in t and "poll_interval" in t for t in tables)
    assert any("sync_mode" in t and "output_path" in t for t in tables)
    assert any("task_uuid" in t and "poke_interval" in t and "allowed_media_roots" in t for t in tables)


def _parameter_rows(article: str, anchor: str) -> dict[str, str]:
    """Name -> Default cell of the first parameter table after the heading ``anchor``."""
    start = article.index(f'id="{anchor}"')
    table = re.search(r"<table\b.*?</table>", article[start:], re.S)
    assert table, anchor
    rows = re.findall(r"<tr class=\"doc-section-item\">(.*?)</tr>", table.group(0), re.S)
    out = {}
    for row in rows:
        cells = [_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        out[cells[0]] = cells[-1]
    return out


def test_the_api_reference_shows_the_operators_true_defaults(site: Path) -> None:
    """Not "required" for every optional parameter (issue 19): the values users get."""
    article = _main(site / "api" / "index.html")
    rows = _parameter_rows(article, "airflow_provider_sync.operators.sync.SyncLipsyncOperator")
    assert [name for name, default in rows.items() if default == "required"] == ["video"]
    assert rows["model"] == "'lipsync-2'"
    assert rows["poll_interval"] == "10.0"
    assert rows["timeout"] == "timedelta(hours=1)"
    assert rows["runware_conn_id"] == "'runware_default'"
    assert rows["input_transfer"] == "'auto'"
    assert rows["include_cost"] == "True"
    assert rows["hook_params"] == "None"
    react = _parameter_rows(article, "airflow_provider_sync.operators.sync.SyncReactOperator")
    assert react["model"] == "'react-1'"
    signature = _text(article[article.index('id="airflow_provider_sync.operators.sync.SyncReactOperator"') :])
    assert "poll_interval: float | str = 10.0" in signature
    assert "POLL_INTERVAL" not in _text(article)


def test_the_changelog_is_a_page(site: Path) -> None:
    text = _text(_main(site / "changelog" / "index.html"))
    assert "0.1.0" in text


def test_links_go_only_to_known_hosts(site: Path) -> None:
    hosts = set()
    for page in site.rglob("*.html"):
        for url in re.findall(r'(?:href|src)="(https?://[^"]+)"', page.read_text(encoding="utf-8")):
            hosts.add(url.split("/")[2])
    assert hosts <= KNOWN_HOSTS, f"links to unchecked hosts: {sorted(hosts - KNOWN_HOSTS)}"


def _docs_snippets() -> Any:
    spec = importlib.util.spec_from_file_location("docs_snippets", REPO / "scripts" / "docs_snippets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_copy_of_code_on_disk_matches_its_source() -> None:
    assert _docs_snippets().stale() == [], "run: python scripts/docs_snippets.py"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_each_example_page_on_disk_holds_its_dags_code(dag_file: Path) -> None:
    page = (DOCS / "examples" / f"{dag_file.stem}.md").read_text(encoding="utf-8")
    short = dag_file.stem.removeprefix("example_sync_")
    for region in (f"howto_operator_sync_{short}", dag_file.stem):
        marker = f"<!-- code: example_dags/{dag_file.name}:{region} -->\n"
        assert marker in page, f"{dag_file.name}: the page does not show region {region}"
        assert _region(dag_file, region).strip() in page.split(marker, 1)[1]


def test_no_page_on_disk_has_an_include_line() -> None:
    include = re.compile(r"^\s*-+\s*8\s*<\s*-+\s*[\"']", re.M)
    found = {
        str(page.relative_to(REPO)): include.findall(page.read_text(encoding="utf-8"))
        for page in DOCS.rglob("*.md")
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_a_changed_region_makes_its_copy_stale_and_a_missing_one_is_an_error() -> None:
    snippets = _docs_snippets()
    dag = "example_dags/example_sync_react.py"
    page = f"Intro\n\n<!-- code: {dag}:howto_operator_sync_react -->\n```python\nold = 1\n```\n\nEnd\n"
    fresh = snippets.render(page)
    assert "old = 1" not in fresh
    assert _region(EXAMPLE_DAGS / "example_sync_react.py", "howto_operator_sync_react").strip() in fresh
    assert fresh.startswith("Intro\n\n<!-- code: ")
    assert fresh.endswith("```\n\nEnd\n")
    assert snippets.render(fresh) == fresh
    with pytest.raises(snippets.SnippetError, match="no_such_region"):
        snippets.render(f"<!-- code: {dag}:no_such_region -->\n```python\n```\n")
    with pytest.raises(snippets.SnippetError, match="does not exist"):
        snippets.render("<!-- include: NO_SUCH.md -->\n<!-- end include -->\n")


def _griffe_rst() -> Any:
    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS / "_ext" / "griffe_rst.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("rst", "markdown"),
    [
        ("an :class:`~airflow.sdk.Asset` or URI", "an `Asset` or URI"),
        (
            "see :mod:`airflow_provider_sync.hooks.batch_poller`",
            "see `airflow_provider_sync.hooks.batch_poller`",
        ),
        ("Async :meth:`run_tasks`.", "Async `run_tasks()`."),
        ("after :data:`MAX_GENERATIONS` jobs", "after `MAX_GENERATIONS` jobs"),
        (":class:`the hook <RunwareHook>`", "`the hook`"),
        (":param video: the video", ":param video: the video"),
        ("``literal`` stays", "``literal`` stays"),
    ],
)
def test_the_api_pages_extension_writes_rest_roles_as_code(rst: str, markdown: str) -> None:
    assert _griffe_rst().rst_to_markdown(rst) == markdown


def test_the_api_pages_extension_fences_literal_blocks() -> None:
    rst = (
        "Trigger it, e.g.::\n\n    airflow dags trigger x\n        --conf '{}'\n\n"
        "Then wait ::\n\n    a\n\nDone."
    )
    assert _griffe_rst().rst_to_markdown(rst) == (
        "Trigger it, e.g.:\n\n```text\nairflow dags trigger x\n    --conf '{}'\n```\n\n"
        "Then wait\n\n```text\na\n```\n\nDone."
    )
