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
    with tempfile.TemporaryDirectory() as floor_dir:
        (Path(floor_dir) / "floor_app.py").write_text(FLOOR_APP, encoding="utf-8")
        wall_time("pass", ROOT, 2)  # warm the OS file cache
        empty = statistics.median(wall_time("pass", ROOT, args.runs))
        floor = statistics.median(wall_time("import floor_app", Path(floor_dir), args.runs))
    marea = statistics.median(wall_time("import app", ROOT, args.runs))
    first = statistics.median(wall_time(FIRST_INVOCATION, ROOT, args.runs))
    print(f"runs per figure: {args.runs} (median wall time of a fresh interpreter)")
    print(f"empty interpreter:                    {empty * 1000:7.0f} ms")
    print(f"floor (Chalice + boto3):              {floor * 1000:7.0f} ms")
    print(
        f"import app (Marea):                   {marea * 1000:7.0f} ms   ratio to floor {marea / floor:.2f} "
        "(goal <= 1.30)"
    )
    print(f"import app + first-invocation imports:{first * 1000:7.0f} ms   ratio to floor {first / floor:.2f}")


if __name__ == "__main__":
    main()
