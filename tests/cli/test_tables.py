"""`marea` tables fit 80 columns whatever the ids and explanations (user input) hold."""

from __future__ import annotations

from marea_cli.tables import ELLIPSIS, Column, cut, render
from marea_cli.views import decisions_table, targets_table

LONG_ID = "checkout-web-tier-eu-west-1-blue-green-canary"  # 45 characters
EXPLANATION = "Scale out from 2 to 9: " + "CPUUtilization 97.1 % over 2 units serving; " * 6


def test_long_ids_and_explanations_are_cut_with_an_ellipsis_and_never_wrap() -> None:
    decision = {
        "created_at": "2026-12-02T13:40:00.123Z",
        "target_id": LONG_ID,
        "outcome": "recommended",
        "current": 120,
        "final": 1000,
        "explanation": EXPLANATION + "\nsecond line <script>",
    }
    target = {
        "id": LONG_ID,
        "kind": "ecs",
        "mode": "advise",
        "paused": True,
        "min": 100,
        "max": 1000,
        "cluster": "payments-production-cluster",
        "service": "checkout-" * 8,
    }

    for table in (decisions_table([decision] * 3), targets_table([target])):
        lines = table.splitlines()
        assert all(len(line) <= 80 for line in lines), table
        assert len(lines) == 1 + (3 if "EXPLANATION" in lines[0] else 1)
        assert lines[1].endswith(ELLIPSIS)
    row = decisions_table([decision]).splitlines()[1]
    assert row == "12-02 13:40:00  checkout-web-…  recommended  120->1000  Scale out from 2 to 9: …"


def test_short_cells_are_kept_whole_and_columns_line_up() -> None:
    table = render([Column("A", 10), Column("B", 80)], [["x", "short"], ["yy", "also short"]])
    assert table.splitlines() == ["A   B", "x   short", "yy  also short"]
    assert cut("abc", 3) == "abc"
    assert cut("abcd", 3) == "ab" + ELLIPSIS


def test_control_characters_from_the_api_never_reach_the_terminal() -> None:
    row = decisions_table(
        [
            {
                "created_at": "2026-12-02T13:40:00Z",
                "target_id": "web",
                "outcome": "failed",
                "current": 2,
                "final": 2,
                "explanation": "\x1b[2J\x1b]0;pwned\x07 cleared",
            }
        ]
    )
    assert "\x1b" not in row
    assert "\x07" not in row
    assert "cleared" in row
