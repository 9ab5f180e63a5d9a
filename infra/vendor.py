"""`make vendor`: the Lambda's dependencies, installed into vendor/ from the hash-locked set.

Chalice installs requirements.txt into the deployment zip with pip, and for a package whose first
download is not a Lambda-platform wheel it downloads one again by name (`pip download --platform ...
<package>`), which checks no hash. So Marea's requirements.txt is empty and the dependencies reach the
zip through vendor/, which Chalice bundles as it is, for `chalice deploy` and `chalice package` alike:
this installs requirements.lock.txt there with `--require-hashes --no-deps` (pip refuses any file whose
sha256 the lock does not list, and resolves nothing) for the Lambda platform (manylinux2014 x86_64, the
CPython version running Chalice, which is the Lambda runtime Chalice picks). A copy of the lock in
vendor/ records what it was built from; `--check` fails when vendor/ is missing or was built from
another lock (what a deploy runs first). pip installs without compiling (its .pyc files are timestamp-based);
vendor/ gets checked hash-based ones instead (marea_deploy/bytecode.py), since Lambda cannot write any.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from marea_deploy import bytecode

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock.txt"
VENDOR = ROOT / "vendor"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
# vendor/<this> is the lock vendor/ was built from (it also travels in the zip, saying what it holds).
BUILT_FROM = "requirements.lock.txt"


class VendorError(Exception):
    """pip refused the lock (a hash mismatch, a missing file, no index): vendor/ is unchanged."""


def lambda_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def install_command(lock: Path, target: Path, python_version: str, index: Sequence[str] = ()) -> list[str]:
    """pip installing exactly the lock's files for the Lambda platform into target."""
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), "--only-binary=:all:", "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
        "--python-version", python_version, "--require-hashes", "--no-deps", *index, "-r", str(lock),
    ]  # fmt: skip


def build(
    lock: Path = LOCK, vendor: Path = VENDOR, python_version: str | None = None, index: Sequence[str] = ()
) -> None:
    """Install into a fresh folder beside vendor/, then swap it in: a refused install leaves vendor/ as it was.

    index: pip's index options (default: pip's configuration, i.e. PyPI); the tests pass a local folder.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{vendor.name}-", dir=vendor.parent))
    retired = vendor.with_name(f".{vendor.name}-retired")
    try:
        python_version = python_version or lambda_python()
        command = install_command(lock, staging, python_version, index)
        installed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed arguments
        if installed.returncode != 0:
            raise VendorError(f"pip refused {lock.name}; {vendor.name}/ is unchanged:\n{installed.stderr.strip()}")
        bytecode.compile_tree(staging, python_version)  # a module that does not compile stays source only, as pip does
        shutil.copyfile(lock, staging / BUILT_FROM)  # dated now: make's vendor/ target is newer than its recipe
        shutil.rmtree(retired, ignore_errors=True)
        if vendor.exists():
            vendor.rename(retired)
        staging.rename(vendor)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def problems(lock: Path = LOCK, vendor: Path = VENDOR) -> list[str]:
    """Why vendor/ is not the lock's set (empty when it is)."""
    built_from = vendor / BUILT_FROM
    if not built_from.is_file():
        return [f"{vendor.name}/ is not built (run `make vendor`)"]
    if built_from.read_bytes() != lock.read_bytes():
        return [f"{vendor.name}/ was built from another {lock.name} (run `make vendor`)"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that vendor/ is the lock's set")
    parser.add_argument("--vendor", type=Path, default=VENDOR, help="the vendor/ to check (default this repository's)")
    args = parser.parse_args(argv)
    if not args.check:
        try:
            build()
        except VendorError as error:
            print(f"vendor: {error}", file=sys.stderr)
            return 2
    found = problems(vendor=args.vendor)
    for problem in found:
        print(f"vendor: {problem}", file=sys.stderr)
    if not found:
        shown = args.vendor.relative_to(ROOT) if args.vendor.is_relative_to(ROOT) else args.vendor
        print(f"vendor: {shown}/ holds {LOCK.name}'s set (installed with --require-hashes)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
