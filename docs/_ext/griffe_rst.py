"""Griffe extension for the API page: the docstrings' reST markup, shown as Markdown.

The package's docstrings are written the Sphinx way. Griffe's ``sphinx`` parser reads their
``:param x:``, ``:raises X:`` and ``:returns:`` fields into tables, but the rest would reach
the Markdown renderer as it is and show literally:

* cross-reference roles such as ``:class:`~airflow.sdk.Asset``` or ``:meth:`run_tasks```
  become inline code (``Asset``, ``run_tasks()``), the ``~`` form keeping the last name only;
* a paragraph ending in ``::`` introduces a literal block: the ``::`` becomes ``:`` (or goes,
  after a space or alone on its line) and the indented block becomes a fenced code block.

Loaded by mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``); the
docstrings in the code stay as they are, so Sphinx-minded readers of the source lose nothing.

:class:`TrueDefaults` shows a parameter's default as its value where the code names a
constant (``poll_interval=POLL_INTERVAL`` is shown as ``poll_interval=10.0``): the operators
keep their defaults in one module, and the reader wants the value.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    kind, tilde, target = match.groups()
    explicit = re.fullmatch(r"(.+?)\s*<([^>]+)>", target)  # :class:`title <target>`
    if explicit:
        return f"`{explicit.group(1)}`"
    name = target.rsplit(".", 1)[-1] if tilde else target
    if kind in ("meth", "func") and not name.endswith(")"):
        name += "()"
    return f"`{name}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _literal_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.rstrip()
        if not stripped.endswith("::"):
            out.append(line)
            i += 1
            continue
        head = stripped[:-2]
        if head.strip():
            out.append(head.rstrip() if head.endswith(" ") else head + ":")
        base = _indent(line)
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block_end = j
        while block_end < len(lines) and (not lines[block_end].strip() or _indent(lines[block_end]) > base):
            block_end += 1
        block = lines[j:block_end]
        while block and not block[-1].strip():
            block.pop()
        if not block:  # "::" with nothing indented after it: just the text
            i += 1
            continue
        pad = " " * base
        code = textwrap.dedent("\n".join(block))
        out += ["", pad + "```text", *[(pad + c) if c else "" for c in code.split("\n")], pad + "```", ""]
        i = block_end
    return "\n".join(out)


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with reST roles and literal blocks written as Markdown."""
    return _literal_blocks(_ROLE.sub(_role, text))


class TrueDefaults(griffe.Extension):
    """Replace defaults that name a module constant with the constant's value."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for function in _functions(pkg):
            for parameter in function.parameters:
                value = _constant_value(parameter.default, loader)
                if value is not None:
                    parameter.default = value


def _functions(obj: griffe.Object) -> list[griffe.Function]:
    found: list[griffe.Function] = []
    for member in obj.members.values():
        if member.is_alias:
            continue
        if isinstance(member, griffe.Function):
            found.append(member)
        elif isinstance(member, (griffe.Module, griffe.Class)):
            found += _functions(member)
    return found


def _constant_value(default: Any, loader: griffe.GriffeLoader) -> Any:
    """The value of the constant ``default`` names (an upper-case module attribute), if any."""
    if not isinstance(default, griffe.ExprName) or not default.name.isupper():
        return None
    try:
        target = loader.modules_collection[default.canonical_path]
        if target.is_alias:
            target = target.final_target
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return target.value if isinstance(target, griffe.Attribute) else None


class RstMarkup(griffe.Extension):
    """Rewrite each docstring's reST markup as Markdown before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
