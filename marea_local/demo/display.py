"""The demo's live table, fitted to the terminal it prints to.

On a terminal, each row and each `->` note fits the width (notes wrap under their arrow, rows are
already narrower than 80 columns); piped into a file or a test, lines stay whole, since a reader
there greps and nothing wraps them.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import TextIO

NOTE_INDENT = " " * 11 + "-> "
MIN_WIDTH = 40  # below it, wrapping shreds the sentence more than it helps


def terminal_width(stream: TextIO = sys.stdout) -> int | None:
    """The columns of the terminal `stream` writes to; None when it is not a terminal."""
    if not stream.isatty():
        return None
    return max(MIN_WIDTH, shutil.get_terminal_size().columns)


@dataclass(frozen=True)
class Row:
    """One minute of the three tiers, as the live table prints it."""

    progress: str
    clock: str
    requests: int
    web: tuple[int, int, float]  # ready, desired, CPU %
    chat: tuple[int, int, int | None, float]  # ready (running), desired, real clients (None: simulated), conn/task
    nodes: tuple[int, int, float]  # ready, desired, CPU %


def _units(ready: int, desired: int) -> str:
    return f"{ready:>3}/{desired:<3}"


def header(real_chat: bool) -> list[str]:
    chat = f"{'chat':>7} {'cli':>4} {'conn':>5}" if real_chat else f"{'chat':>7} {'conn':>5}"
    lines = [f"{'':>11} {'time':>5} {'req':>5} | {'web':>7} {'CPU':>4} | {chat} | {'nodes':>7} {'CPU':>4}"]
    lines.append(f"{'':>11} req = requests/min; units ready/desired; conn = connections/task")
    if real_chat:
        lines.append(f"{'':>11} chat ready = healthy processes, cli = real socket.io clients")
    return lines


def row(minute: Row) -> str:
    w_ready, w_desired, w_cpu = minute.web
    c_ready, c_desired, clients, conn = minute.chat
    n_ready, n_desired, n_cpu = minute.nodes
    chat = _units(c_ready, c_desired) + (f" {clients:>4}" if clients is not None else "") + f" {conn:>5.0f}"
    return (
        f"{minute.progress} {minute.clock:>5} {minute.requests:>5} | {_units(w_ready, w_desired)} {w_cpu:>3.0f}% | "
        f"{chat} | {_units(n_ready, n_desired)} {n_cpu:>3.0f}%"
    )


def note(text: str, width: int | None) -> list[str]:
    """A `->` line under the row: whole when width is None, else wrapped under its arrow."""
    if width is None:
        return [NOTE_INDENT + text]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=NOTE_INDENT,
        subsequent_indent=" " * len(NOTE_INDENT),
        break_on_hyphens=False,
    ) or [NOTE_INDENT]


def say(line: str) -> None:
    print(line, flush=True)
