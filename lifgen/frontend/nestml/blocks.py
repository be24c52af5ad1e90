"""NESTML text -> a tree of blocks and statements, by indentation, as NESTML's grammar nests them.

A `Line` is one logical line (continuations joined: open parentheses, a trailing comma or
backslash) with its number in the file; a line ending in `:` opens a block whose lines are the
more deeply indented ones after it. Comments (`#`), docstrings (`\"\"\"...\"\"\"`) and a statement's closing `;` are dropped.
Nothing here reads what a line means; `translate.py` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from ...errors import ModelError

MAX_TEXT = 200_000
MAX_LINES = 5000
MAX_DEPTH = 12
_DOCSTRING = re.compile(r'"""(?:.|\n)*?"""')
_COMMENT = re.compile(r"#.*$")


@dataclass
class Line:
    """One logical line: its text (comment dropped), its first line number and its children."""

    number: int
    text: str
    indent: int
    children: list["Line"] = field(default_factory=list)

    @property
    def header(self) -> str:
        """The text of a block's opening line without its colon."""
        return self.text[:-1].rstrip() if self.text.endswith(":") else self.text


def read_lines(text: str, source: str) -> list[Line]:
    """The top-level lines of NESTML `text`, each with its block's lines as children."""
    if not isinstance(text, str):
        raise ModelError("NESTML text must be a string", source)
    if len(text) > MAX_TEXT:
        raise ModelError(f"the NESTML text is {len(text)} characters long; the limit is "
                         f"{MAX_TEXT}", source)
    odd = next((c for c in text if not (c.isascii() and (c.isprintable() or c in "\n\r\t"))),
               None)
    if odd is not None:
        raise ModelError(f"character {odd!r} (U+{ord(odd):04X}) is not allowed: NESTML models "
                         "are read as ASCII text", source)
    text = _DOCSTRING.sub(lambda m: "\n" * m.group(0).count("\n"), text.replace("\r", ""))
    logical = _logical_lines(text, source)
    if len(logical) > MAX_LINES:
        raise ModelError(f"the NESTML text has {len(logical)} lines; the limit is {MAX_LINES}",
                         source)
    return _nest(logical, source)


def _logical_lines(text: str, source: str) -> list[Line]:
    lines: list[Line] = []
    pending: Line | None = None
    depth = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        code = _COMMENT.sub("", raw.replace("\t", "    ")).rstrip().removesuffix(";").rstrip()
        if not code.strip():
            continue
        if pending is None:
            pending = Line(number, code.strip(), len(code) - len(code.lstrip()))
        else:
            pending.text += " " + code.strip()
        depth += code.count("(") - code.count(")")
        if depth < 0:
            raise ModelError(f"line {number}: ')' without '('", source, f"line {number}")
        if depth > 0 or code.endswith(",") or code.endswith("\\"):
            pending.text = pending.text.rstrip("\\").rstrip()
            continue
        lines.append(pending)
        pending, depth = None, 0
    if pending is not None:
        raise ModelError(f"line {pending.number}: the text ends inside an open parenthesis or "
                         "continued line", source, f"line {pending.number}")
    return lines


def _nest(lines: list[Line], source: str) -> list[Line]:
    root = Line(0, "", -1)
    stack = [root]
    for line in lines:
        while line.indent <= stack[-1].indent:
            stack.pop()
        parent = stack[-1]
        if parent is not root and not parent.text.endswith(":"):
            raise ModelError(f"line {line.number}: unexpected indentation after "
                             f"{parent.text!r}", source, f"line {line.number}")
        parent.children.append(line)
        if line.text.endswith(":"):
            if len(stack) > MAX_DEPTH:
                raise ModelError(f"line {line.number}: blocks are nested more than {MAX_DEPTH} "
                                 "deep", source, f"line {line.number}")
            stack.append(line)
    for line in _walk(root):
        if line is not root and line.text.endswith(":") and not line.children:
            raise ModelError(f"line {line.number}: the block {line.header!r} is empty", source,
                             f"line {line.number}")
    return root.children


def _walk(line: Line) -> Iterator[Line]:
    yield line
    for child in line.children:
        yield from _walk(child)
