"""Tables for a terminal: one line per row, never wider than the width (80 unless told), cut with an ellipsis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 80
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    title: str
    most: int  # at most this many characters; the last column takes what is left of the width


def printable(text: str) -> str:
    """Control characters (an ESC sequence in an explanation, user input) shown as U+FFFD, never sent to the tty."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def cut(text: str, width: int) -> str:
    text = " ".join(printable(text).split())  # a newline in user input must not break the row
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def render(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int = WIDTH) -> str:
    """Each column as wide as its widest cell (at most ``most``); the last one is cut to the width."""
    fixed = columns[:-1]
    widths = [
        min(c.most, max([len(c.title), *(len(" ".join(r[i].split())) for r in rows)])) for i, c in enumerate(fixed)
    ]
    rest = max(len(ELLIPSIS), width - sum(widths) - 2 * len(fixed))
    lines = []
    for cells in [[c.title for c in columns], *rows]:
        parts = [cut(cell, w).ljust(w) for cell, w in zip(cells[:-1], widths, strict=True)]
        lines.append("  ".join([*parts, cut(cells[-1], rest)]).rstrip())
    return "\n".join(lines)
