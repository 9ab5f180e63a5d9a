"""The demo's live table fits an 80-column terminal, and keeps whole lines when piped."""

from __future__ import annotations

import io

from marea_local.demo import display

EXPLANATION = (
    "Scale out from 2 to 9 (target tracking cpu-60 asks 9: CPUUtilization 97.1 % over 2 units serving, "
    "target 60 %; the covered peak (60 % of the 300 s stretches of 7200 s, busiest of the last 300 s) asks 6)"
)


def test_rows_and_headers_fit_80_columns_with_the_largest_figures_the_demo_shows() -> None:
    rows = [
        display.row(
            display.Row(
                progress="[1440/1440]",
                clock="23:59",
                requests=9999,
                web=(25, 25, 100.0),
                chat=(12, 40, 400 if real else None, 99999.0),
                nodes=(40, 40, 100.0),
            )
        )
        for real in (True, False)
    ]
    for line in rows + display.header(real_chat=True) + display.header(real_chat=False):
        assert len(line) <= 80, line


def test_a_note_wraps_under_its_arrow_at_the_terminal_width() -> None:
    lines = display.note(EXPLANATION, width=80)
    assert len(lines) > 1
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith(display.NOTE_INDENT)
    assert all(line.startswith(" " * len(display.NOTE_INDENT)) for line in lines[1:])
    assert " ".join(line.strip() for line in lines).removeprefix("-> ") == EXPLANATION


def test_piped_output_keeps_each_note_whole() -> None:
    assert display.terminal_width(io.StringIO()) is None
    assert display.note(EXPLANATION, width=None) == [display.NOTE_INDENT + EXPLANATION]
