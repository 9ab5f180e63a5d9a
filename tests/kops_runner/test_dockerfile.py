"""Docker cannot build here; these checks hold the Dockerfile to what the image must guarantee."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "kops_runner" / "Dockerfile").read_text()


def test_it_pins_a_kops_release_matching_the_local_double() -> None:
    from marea_local.kops_local import KOPS_VERSION

    pins = re.findall(r"^ARG KOPS_VERSION=(\S+)$", DOCKERFILE, re.M)
    assert pins
    assert set(pins) == {KOPS_VERSION}
    assert re.fullmatch(r"\d+\.\d+\.\d+", KOPS_VERSION)


def test_it_downloads_kops_from_the_official_artifacts_and_verifies_the_sha256() -> None:
    assert "https://artifacts.k8s.io/binaries/kops/${KOPS_VERSION}/linux/${TARGETARCH}/kops" in DOCKERFILE
    assert '"${url}.sha256"' in DOCKERFILE
    assert "sha256sum -c -" in DOCKERFILE
    assert "set -eux" in DOCKERFILE  # a failed check fails the build
    assert "curl -fsSL" in DOCKERFILE  # -f: an HTTP error fails the build too


def test_it_runs_the_runner_as_an_unprivileged_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["python", "-I", "-m", "kops_runner"]' in DOCKERFILE  # isolated: no PYTHON* variables


def test_the_kops_path_is_fixed_in_the_image_not_a_setting() -> None:
    from kops_runner.isolation import KOPS_PATH

    assert f"COPY --from=kops {KOPS_PATH} {KOPS_PATH}" in DOCKERFILE
    assert "KOPS_BINARY" not in DOCKERFILE
    assert "/app > " in DOCKERFILE  # the .pth that puts /app on sys.path under -I


def test_it_leaves_the_test_double_out_and_pins_python_dependencies() -> None:
    assert "COPY kops_runner/*.py /app/kops_runner/" in DOCKERFILE
    assert not any("testing" in line for line in re.findall(r"^COPY .*$", DOCKERFILE, re.M))
    requirements = (ROOT / "kops_runner" / "requirements.txt").read_text().split("\n")
    pinned = [line for line in requirements if line and not line.startswith("#")]
    assert {line.split("==")[0].lower() for line in pinned} == {"boto3", "pydantic", "pyyaml"}
    assert all("==" in line for line in pinned)


def test_the_runner_imports_of_chalicelib_only_the_shared_names_the_image_copies() -> None:
    forbidden = re.compile(r"^\s*(from|import)\s+(chalicelib|marea_local|app)\b(?! import kops_names$)", re.M)
    for path in (ROOT / "kops_runner").glob("*.py"):
        assert not forbidden.search(path.read_text()), path
    assert "COPY chalicelib/kops_names.py /app/chalicelib/kops_names.py" in DOCKERFILE


def test_nothing_in_the_image_runs_a_shell() -> None:
    """A shell would read BASH_ENV (or ENV) from the caller's overrides: kops is started with an argument list."""
    shells = re.compile(r"shell\s*=\s*True|os\.system|os\.popen|os\.exec|/bin/sh|\bbash\b|pty\.")
    for path in (ROOT / "kops_runner").glob("*.py"):
        assert not shells.search(path.read_text()), path
