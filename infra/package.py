"""`make package`: build Marea's Lambda deployment offline with `chalice package`, then validate it.

The dependencies are vendor/, built by `make vendor` (infra/vendor.py) from the hash-locked
requirements.lock.txt for the Lambda platform; requirements.txt is empty, so Chalice installs nothing
itself and bundles vendor/ as it is (it runs with PIP_NO_INDEX=1 all the same). A vendor/ that is
missing or was built from another lock stops the packaging. ``--no-dependencies`` packages a copy of
the project without vendor/ instead: the CloudFormation template is the same (it does not depend on
the zip's contents), which is what the test suite checks.

Validation: cfn-lint on the generated template, every function's role policy is the stage's
policy file, and the zip holds the app and, unless ``--no-dependencies``, Linux x86_64 builds of
the compiled dependencies and no boto3 (the Lambda runtime provides it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repository's modules
from infra import vendor
from marea_deploy import bytecode
from marea_deploy.gateway_responses import GATEWAY_RESPONSES
from marea_deploy.project import project_copy

ROOT = Path(__file__).resolve().parent.parent


class _CfnLoader(yaml.SafeLoader):
    """Keeps CloudFormation short-form tags as {tag: value} (the template is read, not resolved)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: {suffix: loader.construct_object(node)})


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def merge_template(stage: str) -> dict[str, Any]:
    """Merged into Chalice's template (`--merge-template`): the REST API's definition gains the gateway responses,
    and every function the queue URL from the data stack's export (SAM merges Globals' variables into each
    function's; one the stage's config sets, after `make deploy`, wins and is the same URL)."""
    queue_url = {"Fn::ImportValue": f"marea-{stage}-evaluation-queue-url"}  # infra/marea-data.yaml's export
    return {
        "Globals": {"Function": {"Environment": {"Variables": {"MAREA_FANOUT_QUEUE_URL": queue_url}}}},
        "Resources": {
            "RestAPI": {"Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": GATEWAY_RESPONSES}}}
        },
    }


def chalice_package(project: Path, stage: str, out: Path) -> Path:
    """Run `chalice package` offline; returns the SAM template path."""
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MAREA_FANOUT_QUEUE_NAME": os.environ.get("MAREA_FANOUT_QUEUE_NAME", f"marea-{stage}-evaluations"),
        # Chalice wants a region; the template itself uses ${AWS::Region}.
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    chalice = Path(sys.executable).parent / "chalice"
    bytecode.compile_app(project)  # Chalice bundles chalicelib/ with its __pycache__
    with tempfile.TemporaryDirectory(prefix="marea-merge-") as scratch:
        merge = Path(scratch) / "merge.json"
        merge.write_text(json.dumps(merge_template(stage)), encoding="utf-8")
        command = [str(chalice), "package", "--stage", stage, "--template-format", "yaml"]
        command += ["--merge-template", str(merge), str(out)]
        subprocess.run(command, cwd=project, env=env, check=True)  # noqa: S603 - fixed arguments
    return out / "sam.yaml"


def problems_in(template_path: Path, stage: str, *, with_dependencies: bool) -> list[str]:
    """What is wrong with a packaged deployment (empty when it is fine)."""
    return [
        *_lint_problems(template_path),
        *_role_problems(load_template(template_path), stage),
        *_zip_problems(template_path.parent / "deployment.zip", with_dependencies=with_dependencies),
    ]


def _lint_problems(template_path: Path) -> list[str]:
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    lint = subprocess.run([cfn_lint, str(template_path)], capture_output=True, text=True, check=False)  # noqa: S603
    return [] if lint.returncode == 0 else [f"cfn-lint:\n{lint.stdout}{lint.stderr}"]


def _role_problems(template: dict[str, Any], stage: str) -> list[str]:
    """Every function's role carries exactly .chalice/policy-<stage>.json, nothing broader."""
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text(encoding="utf-8"))
    roles = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    problems = [] if roles else ["no IAM role in the template"]
    for name, role in roles.items():
        documents = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        if documents != [policy]:
            problems.append(f"{name}: its policy is not .chalice/policy-{stage}.json")
        if role["Properties"].get("ManagedPolicyArns"):
            problems.append(f"{name}: has managed policies attached")
    return problems


def _zip_problems(archive_path: Path, *, with_dependencies: bool) -> list[str]:
    with zipfile.ZipFile(archive_path) as archive:
        names = archive.namelist()
        problems = _bytecode_problems(archive)
    problems += [f"deployment.zip lacks {f}" for f in ("app.py", "chalicelib/aws.py") if f not in names]
    if any(n.startswith("boto3/") for n in names):
        problems.append(
            "deployment.zip bundles boto3 (the Lambda runtime provides it; keep it out of requirements.txt)"
        )
    if with_dependencies:
        tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64-linux-gnu.so"
        if not any(n.startswith("pydantic_core/") and n.endswith(tag) for n in names):
            problems.append(f"deployment.zip lacks pydantic_core built for Lambda (*{tag})")
        packages = ("aws_lambda_powertools/", "pydantic/", "cronsim/", "ulid/")
        problems += [f"deployment.zip lacks {p}" for p in packages if not any(n.startswith(p) for n in names)]
    return problems


# Chalice writes these into every zip itself, as source (app.py alone, chalice/ from its own package).
_ZIPPED_AS_SOURCE = ("app.py", "chalice/")


def _bytecode_problems(archive: zipfile.ZipFile) -> list[str]:
    """Modules Lambda would compile at every cold start: no .pyc it would use beside them (chalicelib/'s and
    every dependency's; Chalice's own copies aside)."""
    names = set(archive.namelist())
    modules = sorted(n for n in names if n.endswith(".py") and not n.startswith(_ZIPPED_AS_SOURCE))
    if not any(n.startswith("chalicelib/") for n in modules):
        return ["deployment.zip holds no module of chalicelib/"]
    lacking: dict[str, list[str]] = {}
    for module in modules:
        folder, _, file = module.rpartition("/")
        pyc = f"{folder}/__pycache__/{file.removesuffix('.py')}.{sys.implementation.cache_tag}.pyc".lstrip("/")
        if pyc not in names or not bytecode.is_current_bytecode(archive.read(pyc), archive.read(module)):
            lacking.setdefault(module.split("/")[0], []).append(module)
    return [
        f"deployment.zip: {len(missing)} modules of {top} lack current bytecode ({missing[0]})"
        for top, missing in sorted(lacking.items())
    ]


def notes_on(archive_path: Path) -> list[str]:
    """Facts worth knowing about the zip: its size, and botocore arriving as a dependency."""
    with zipfile.ZipFile(archive_path) as archive:
        names = archive.namelist()
    notes = [f"deployment.zip is {archive_path.stat().st_size / 1e6:.1f} MB (Lambda's limit: 50 MB zipped)"]
    if any(n.startswith("botocore/") for n in names):
        # aws-xray-sdk (Powertools' tracer extra) requires botocore, so pip brings it in; at run time
        # it shadows the runtime's botocore under the runtime's boto3.
        notes.append("botocore is bundled (required by aws-xray-sdk) and runs under the Lambda runtime's boto3")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("--out", type=Path, help="output folder (default build/package/<stage>)")
    parser.add_argument("--no-dependencies", action="store_true", help="package without vendor/")
    args = parser.parse_args(argv)
    out: Path = (args.out or ROOT / "build" / "package" / args.stage).resolve()
    if not args.no_dependencies and (stale := vendor.problems()):
        print(f"package problem: {stale[0]}", file=sys.stderr)
        return 1
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="marea-package-") as scratch:
        project = project_copy(Path(scratch)) if args.no_dependencies else ROOT
        template = chalice_package(project, args.stage, out)
    problems = problems_in(template, args.stage, with_dependencies=not args.no_dependencies)
    for note in notes_on(template.parent / "deployment.zip"):
        print(f"package note: {note}")
    for problem in problems:
        print(f"package problem: {problem}", file=sys.stderr)
    if not problems:
        print(f"packaged stage {args.stage}: {template} and {template.parent / 'deployment.zip'} (validated)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
