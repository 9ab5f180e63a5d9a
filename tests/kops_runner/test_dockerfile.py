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


# kops 1.36.2's linux binaries, from its promotion manifest (kubernetes/k8s.io,
# artifacts/manifests/k8s-staging-kops/1.36.2.yaml): what artifacts.k8s.io serves. Checksums, not secrets
# (detect-secrets' pragma below).
KOPS_1_36_2_SHA256 = {
    "amd64": "0a497df3665569f07c76c31a245ab2cc69e1d327faf7805b83358fde5a4b8da1",  # pragma: allowlist secret
    "arm64": "a76472e9b4ca549202fda98bd706d593be550c203eb5b02c9fbbfd8c20dc5419",  # pragma: allowlist secret
}


def _arg_defaults() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S*)$", DOCKERFILE, re.M))


def test_the_kops_binary_is_checked_against_a_pinned_sha256_per_architecture() -> None:
    """Not only against the .sha256 served beside it (the same host could serve a matching pair)."""
    args = _arg_defaults()
    assert args["KOPS_VERSION"] == "1.36.2"
    assert {arch: args[f"KOPS_SHA256_{arch.upper()}"] for arch in KOPS_1_36_2_SHA256} == KOPS_1_36_2_SHA256
    assert "KOPS_SHA256" not in args  # the old optional, empty-by-default pin is gone
    assert 'echo "${pinned}  /tmp/kops" | sha256sum -c -' in DOCKERFILE


def test_a_build_without_a_pinned_sha256_fails() -> None:
    """The stage's shell, run as the build runs it: an empty or malformed pin stops the build before any
    download; a pin for another architecture is looked up by TARGETARCH."""
    import subprocess

    script = re.search(r"# kops-sha256-select\n(.*?)# end kops-sha256-select", DOCKERFILE, re.S)
    assert script, "the Dockerfile's kops stage has no pinned-sha256 selection block"
    body = script.group(1).replace("\\\n", "\n")

    def select(arch: str, amd64: str, arm64: str) -> subprocess.CompletedProcess[str]:
        env = {"TARGETARCH": arch, "KOPS_SHA256_AMD64": amd64, "KOPS_SHA256_ARM64": arm64, "KOPS_VERSION": "9.9.9"}
        return subprocess.run(  # noqa: S603 - sh with the Dockerfile's own lines
            ["/bin/sh", "-euc", body + '\necho "pinned=${pinned}"'], env=env, capture_output=True, text=True
        )

    good = KOPS_1_36_2_SHA256
    assert select("arm64", good["amd64"], good["arm64"]).stdout.strip() == f"pinned={good['arm64']}"
    assert select("amd64", good["amd64"], good["arm64"]).stdout.strip() == f"pinned={good['amd64']}"
    for arch, amd64, arm64 in (("amd64", "", good["arm64"]), ("arm64", good["amd64"], "abc"), ("s390x", "", "")):
        failed = select(arch, amd64, arm64)
        assert failed.returncode != 0
        assert "pinned=" not in failed.stdout
        assert "KOPS_SHA256_" in failed.stderr  # the error names the build argument to give


def test_the_base_image_is_pinned_by_digest() -> None:
    image = _arg_defaults()["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", image), image
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


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
    assert "COPY kops_runner/requirements.lock.txt /app/requirements.lock.txt" in DOCKERFILE
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


def test_the_image_carries_bytecode_for_the_runner_and_its_dependencies() -> None:
    """The runner runs as a user who cannot write .pyc files: compiled at build, after the last Python file is
    copied in, or each task compiles boto3 and botocore again."""
    compile_step = 'RUN python -m compileall -q --invalidation-mode checked-hash /app "$(python -c'
    assert compile_step in DOCKERFILE
    assert 'sysconfig.get_paths()["purelib"]' in DOCKERFILE.split(compile_step, 1)[1].splitlines()[0]
    last_copy = max(i for i, line in enumerate(DOCKERFILE.splitlines()) if line.startswith("COPY") and ".py" in line)
    compile_line = next(i for i, line in enumerate(DOCKERFILE.splitlines()) if line.startswith(compile_step))
    assert compile_line > last_copy
