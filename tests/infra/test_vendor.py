"""`make vendor` (infra/vendor.py) with real pip and real Chalice, offline.

The index is the one thing that cannot run here: instead of PyPI, pip reads a local folder of wheels
this module builds (`--no-index --find-links`), with the same install command otherwise. The real
lock's command is checked as data (what `make vendor` runs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import vendor
from marea_deploy import bytecode
from tests.infra.templates import ROOT

PROBE = "marea_probe"


def _wheel(folder: Path, body: str) -> Path:
    """A pure-Python wheel of marea-probe 1.0 whose module holds body."""
    files = {
        f"{PROBE}/__init__.py": body.encode(),
        f"{PROBE}-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: marea-probe\nVersion: 1.0\n",
        f"{PROBE}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files[f"{PROBE}-1.0.dist-info/RECORD"] = ("\n".join([*record, f"{PROBE}-1.0.dist-info/RECORD,,"]) + "\n").encode()
    path = folder / f"{PROBE}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """A wheel folder and a lock pinning its one wheel by sha256; pip sees no configuration but that folder."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    digest = hashlib.sha256(_wheel(wheels, "GENUINE = True\n").read_bytes()).hexdigest()
    (tmp_path / "requirements.lock.txt").write_text(f"marea-probe==1.0 \\\n    --hash=sha256:{digest}\n")
    return tmp_path, ["--no-index", "--find-links", str(wheels)]


def test_vendor_holds_exactly_the_locked_files_and_the_lock_it_came_from(offline: tuple[Path, list[str]]) -> None:
    folder, index = offline
    lock, target = folder / "requirements.lock.txt", folder / "vendor"

    vendor.build(lock, target, "3.11", index)

    assert (target / PROBE / "__init__.py").read_text() == "GENUINE = True\n"
    assert (target / vendor.BUILT_FROM).read_bytes() == lock.read_bytes()
    assert vendor.problems(lock, target) == []


def test_vendor_carries_bytecode_python_uses_for_the_lambda_python_only(offline: tuple[Path, list[str]]) -> None:
    """Lambda cannot write .pyc files: vendor/ holds checked hash-based ones for the interpreter running Chalice
    (the runtime it picks), and none for another version, whose runtime would not read them."""
    folder, index = offline
    lock = folder / "requirements.lock.txt"
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    other = "3.10" if running != "3.10" else "3.11"
    cache = Path(PROBE) / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"

    vendor.build(lock, folder / "vendor", running, index)
    vendor.build(lock, folder / "other", other, index)

    source = (folder / "vendor" / PROBE / "__init__.py").read_bytes()
    assert bytecode.is_current_bytecode((folder / "vendor" / cache).read_bytes(), source)
    assert not (folder / "other" / PROBE / "__pycache__").exists()


def test_a_file_whose_hash_the_lock_does_not_list_is_refused_and_vendor_is_unchanged(
    offline: tuple[Path, list[str]],
) -> None:
    folder, index = offline
    lock, target = folder / "requirements.lock.txt", folder / "vendor"
    vendor.build(lock, target, "3.11", index)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    _wheel(folder / "wheels", "GENUINE = False  # tampered\n")  # same name and version, other bytes

    with pytest.raises(vendor.VendorError, match=r"(?s)pip refused requirements\.lock\.txt.*(HASH|hash)"):
        vendor.build(lock, target, "3.11", index)

    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert (target / PROBE / "__init__.py").read_text() == "GENUINE = True\n"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".vendor")] == []  # no staging left behind


def test_the_check_fails_on_a_missing_or_stale_vendor(offline: tuple[Path, list[str]]) -> None:
    folder, index = offline
    lock, target = folder / "requirements.lock.txt", folder / "vendor"
    assert vendor.problems(lock, target) == ["vendor/ is not built (run `make vendor`)"]
    vendor.build(lock, target, "3.11", index)

    lock.write_text(lock.read_text() + "six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")  # `make lock` moved on

    assert vendor.problems(lock, target) == ["vendor/ was built from another requirements.lock.txt (run `make vendor`)"]


def test_chalice_bundles_vendor_as_it_is_and_installs_nothing_itself(
    offline: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A Chalice project with Marea's requirements.txt and a vendor/: `chalice package`, with no index to
    reach, zips vendor/ as it is (Chalice calls no pip: the file names no package)."""
    folder, index = offline
    project = tmp_path_factory.mktemp("project")
    (project / "app.py").write_text(
        "from chalice import Chalice\n\napp = Chalice(app_name='probe')\n\n\n"
        "@app.lambda_function()\ndef probe(event, context):\n    return {}\n"
    )
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "app_name": "probe"}))
    (project / "requirements.txt").write_bytes((ROOT / "requirements.txt").read_bytes())
    vendor.build(folder / "requirements.lock.txt", project / "vendor", "3.11", index)
    env = {**os.environ, "PIP_NO_INDEX": "1", "AWS_DEFAULT_REGION": "us-east-1"}
    chalice = str(Path(sys.executable).parent / "chalice")

    packaged = subprocess.run(  # noqa: S603 - the venv's chalice, fixed arguments
        [chalice, "package", str(project / "out")], cwd=project, env=env, capture_output=True, text=True
    )

    assert packaged.returncode == 0, packaged.stderr[-2000:]
    with zipfile.ZipFile(project / "out" / "deployment.zip") as archive:
        names = set(archive.namelist())
        assert archive.read(f"{PROBE}/__init__.py") == b"GENUINE = True\n"
    assert {"app.py", vendor.BUILT_FROM, f"{PROBE}-1.0.dist-info/RECORD"} <= names


def test_make_vendor_installs_the_real_lock_for_the_lambda_platform_with_hashes_required() -> None:
    """The command `make vendor` runs for requirements.lock.txt (it needs PyPI, so it is checked as data),
    and the Make wiring: `make package` builds vendor/ first; git ignores it."""
    command = vendor.install_command(vendor.LOCK, vendor.VENDOR, "3.11")
    flags = " ".join(command[3:])

    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert f"--target {vendor.VENDOR}" in flags
    assert "--only-binary=:all: --platform manylinux2014_x86_64 --implementation cp --python-version 3.11" in flags
    assert "--require-hashes --no-deps" in flags
    assert command[-2:] == ["-r", str(ROOT / "requirements.lock.txt")]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\t$(BIN)/python infra/vendor.py\n" in makefile
    assert "vendor/requirements.lock.txt: requirements.lock.txt" in makefile
    assert "package: venv vendor console-assets\n" in makefile  # vendor/ (and the console's Chart.js) first
    assert "/vendor/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
