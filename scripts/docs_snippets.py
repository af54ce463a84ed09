"""Copy code from the repository into the docs pages, so they read the same on disk and built.

A page marks what it shows with an HTML comment (invisible once rendered, on GitHub too):

* ``<!-- code: example_dags/example_sync_lipsync.py:howto_operator_sync_lipsync -->`` right
  above a fenced code block: the block's body is that region of the file, the lines between
  ``# --8<-- [start:<region>]`` and ``# --8<-- [end:<region>]`` (nested markers left out,
  dedented). Without ``:<region>``, the whole file. The fence line itself (language, title)
  is the page's own.
* ``<!-- include: CHANGELOG.md -->`` ... ``<!-- end include -->``: the Markdown between the
  two comments is that file.

Edit the source file, never the copy, then run::

    python scripts/docs_snippets.py          # rewrite the stale copies
    python scripts/docs_snippets.py --check  # exit 1 and name each stale page (make docs, tests/docs)
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

_CODE = re.compile(
    r"^(?P<marker><!-- code: (?P<source>[^\s:]+)(?::(?P<region>[\w-]+))? -->\n)"
    r"(?P<fence>(?P<ticks>`{3,})[^\n]*\n)(?P<body>.*?)^(?P=ticks)[ \t]*$",
    re.M | re.S,
)
_INCLUDE = re.compile(
    r"^(?P<marker><!-- include: (?P<source>\S+) -->\n)(?P<body>.*?)^<!-- end include -->$", re.M | re.S
)
_REGION_MARKER = re.compile(r"^\s*#\s*--8<--\s*\[(?:start|end):[\w-]+\]\s*$")


class SnippetError(Exception):
    """A page names a file or region that does not exist."""


def region(source: Path, name: str | None) -> str:
    """The text a page shows for ``source`` (and ``name``), ending with a newline."""
    if not source.is_file():
        raise SnippetError(f"{source.relative_to(REPO)} does not exist")
    lines = source.read_text(encoding="utf-8").splitlines()
    if name is not None:
        starts = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [start:{name}]"]
        ends = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [end:{name}]"]
        if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
            raise SnippetError(
                f"{source.relative_to(REPO)}: needs one '# --8<-- [start:{name}]' ... "
                f"'# --8<-- [end:{name}]' pair"
            )
        lines = lines[starts[0] + 1 : ends[0]]
    body = [line for line in lines if not _REGION_MARKER.match(line)]
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def render(page: str) -> str:
    """``page`` with every marked copy brought up to date."""

    def code(match: re.Match[str]) -> str:
        text = region(REPO / match["source"], match["region"])
        if match["ticks"] in text:
            raise SnippetError(f"{match['source']}: holds {match['ticks']}; use a longer fence")
        return f"{match['marker']}{match['fence']}{text}{match['ticks']}"

    def include(match: re.Match[str]) -> str:
        text = region(REPO / match["source"], None)
        return f"{match['marker']}{text}<!-- end include -->"

    return _INCLUDE.sub(include, _CODE.sub(code, page))


def pages() -> list[Path]:
    """The Markdown pages of the docs (user-test sources are not pages)."""
    return sorted(p for p in DOCS.rglob("*.md") if "user-tests" not in p.parts)


def stale() -> list[str]:
    """The pages whose copies differ from their sources (relative paths)."""
    out = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        if render(text) != text:
            out.append(str(page.relative_to(REPO)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a copy is stale")
    args = parser.parse_args(argv)
    try:
        outdated = stale()
        if args.check:
            for name in outdated:
                print(f"{name}: a copy of code differs from its source; run python scripts/docs_snippets.py")
            return 1 if outdated else 0
        for name in outdated:
            path = REPO / name
            path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
            print(f"updated {name}")
    except SnippetError as exc:
        print(f"docs_snippets: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
