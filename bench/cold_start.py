"""Lambda cold start: wall time of `import app` in a fresh interpreter, against a floor.

The floor is a minimal Chalice app that imports boto3 (what every Python Lambda on Chalice pays).
Goal (issue #2): Marea's import <= 1.3 x the floor. Also reported: import + the first handler
invocation's deferred imports (Marea defers clients and Powertools to first use), so the
figure cannot hide cost by moving it.

Usage: .venv/bin/python bench/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR_APP = 'import boto3\nfrom chalice import Chalice\n\napp = Chalice(app_name="floor")\n'
# What the first invocation of an event handler imports on top of `import app`.
FIRST_INVOCATION = (
    "import app; from chalicelib import wiring, triggers, observability; "
    "observability.logger(); observability.metrics(); import boto3; "
    "from aws_lambda_powertools.utilities.idempotency import idempotent_function"
)


def wall_time(code: str, cwd: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True)  # noqa: S603 - our own interpreter
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"empty": [], "floor": [], "app": [], "first": []}
    with tempfile.TemporaryDirectory() as floor_dir:
        (Path(floor_dir) / "floor_app.py").write_text(FLOOR_APP, encoding="utf-8")
        wall_time("pass", ROOT, 2)  # warm the OS file cache
        # Interleaved, so that load from other processes falls on every figure alike.
        for _ in range(args.runs):
            figures["empty"] += wall_time("pass", ROOT, 1)
            figures["floor"] += wall_time("import floor_app", Path(floor_dir), 1)
            figures["app"] += wall_time("import app", ROOT, 1)
            figures["first"] += wall_time(FIRST_INVOCATION, ROOT, 1)
    print(
        f"runs per figure: {args.runs}, interleaved; best (least disturbed) and median wall time of a fresh interpreter"
    )
    floor_best, floor_median = min(figures["floor"]), statistics.median(figures["floor"])
    for key, label in (
        ("empty", "empty interpreter"),
        ("floor", "floor (Chalice + boto3)"),
        ("app", "import app (Marea), goal <= 1.30 x floor"),
        ("first", "import app + first-invocation imports"),
    ):
        best, median = min(figures[key]), statistics.median(figures[key])
        print(
            f"{label:<42} best {best * 1000:5.0f} ms ({best / floor_best:.2f} x floor)   "
            f"median {median * 1000:5.0f} ms ({median / floor_median:.2f} x floor)"
        )


if __name__ == "__main__":
    main()
