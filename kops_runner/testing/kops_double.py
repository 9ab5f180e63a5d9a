#!/usr/bin/env python3
"""TEST DOUBLE of the kops CLI. It is not kops: kops cannot be installed where Marea's tests run.

It implements only the commands Marea's kops runner calls, following kops v1.36.x (the
kubernetes/kops source at v1.36.2) for their arguments, their output and their refusals:

    kops version
    kops get ig NAME [--name CLUSTER] [--state s3://BUCKET] -o yaml
    kops edit ig NAME [--name ...] [--state ...] --set spec.minSize=N --set spec.maxSize=M
    kops update cluster [CLUSTER] [--name ...] [--state ...] [--yes] [--instance-group NAME]

over the real state-store layout in S3 (here moto's S3, reached through AWS_ENDPOINT_URL):
`<cluster>/config`, `<cluster>/kops-version.txt`, `<cluster>/instancegroup/<ig>` (InstanceGroup
YAML, apiVersion kops.k8s.io/v1alpha2). `update cluster --yes` sets MinSize/MaxSize of each
group's Auto Scaling group (`<ig>.<cluster>`, control plane `<ig>.masters.<cluster>`) from the
instance group spec, as kops does (it never touches DesiredCapacity); without `--yes` it only
prints what it would change. The cluster and state store come from `--name`/`KOPS_CLUSTER_NAME`
and `--state`/`KOPS_STATE_STORE`. Errors go to stderr as `Error: ...` with exit code 1.

Approximations (not kops): no validation beyond sizes, no cloud resources other than the ASG's
two sizes, no `--set` paths other than spec.minSize/spec.maxSize, only `-o yaml`.

Test controls (environment):
    KOPS_DOUBLE_VERSION  the kops version to behave as (default 1.36.2); `--instance-group` is an
                         unknown flag below 1.31 and `edit --set` below 1.22, as in kops.
    KOPS_DOUBLE_FAIL     comma-separated: `version`, `get`, `edit`, `update` fail that command;
                         `<command>-hangs` makes it hang; `update-skips-asg` makes
                         `update cluster --yes` report success without touching the ASG.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_s3 import S3Client

DEFAULT_VERSION = "1.36.2"
IG_ALIASES = ("ig", "instancegroup", "instancegroups")
VALUE_FLAGS = {"--name", "--state", "-o", "--output", "--set", "--instance-group"}
BOOL_FLAGS = {"--yes", "-y"}
SETTABLE = {"spec.minSize": "minSize", "spec.maxSize": "maxSize"}
CONTROL_PLANE_ROLES = {"ControlPlane", "Master"}
STATE_STORE_HELP = (
    "Please set the --state flag or export KOPS_STATE_STORE.\n"
    "For example, a valid value follows the format s3://<bucket>.\n"
    "You can find the supported stores in https://kops.sigs.k8s.io/state."
)


class KopsError(Exception):
    """Printed as kops prints errors (`Error: ...` on stderr) with exit code 1."""


@dataclass
class Invocation:
    words: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)
    yes: bool = False

    def value(self, flag: str) -> str | None:
        found = self.values.get(flag)
        return found[-1] if found else None


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if match is None:
        raise KopsError(f"cannot parse version {text!r}")
    return int(match[1]), int(match[2]), int(match[3])


def version_text() -> str:
    return os.environ.get("KOPS_DOUBLE_VERSION", DEFAULT_VERSION)


def parse_args(argv: list[str]) -> Invocation:
    """cobra-style: flags anywhere, `--flag value` or `--flag=value`; unknown flags are refused."""
    invocation = Invocation()
    args = iter(argv)
    for arg in args:
        if not arg.startswith("-"):
            invocation.words.append(arg)
            continue
        flag, has_value, inline = arg.partition("=")
        if flag in BOOL_FLAGS:
            invocation.yes = not has_value or inline == "true"
        elif flag in VALUE_FLAGS:
            value = inline if has_value else next(args, None)
            if value is None:
                raise KopsError(f"flag needs an argument: {flag}")
            invocation.values.setdefault("-o" if flag == "--output" else flag, []).append(value)
        else:
            raise KopsError(f"unknown flag: {flag}")
    return invocation


def check_flags_supported(invocation: Invocation, version: tuple[int, int, int]) -> None:
    if "--instance-group" in invocation.values and version[:2] < (1, 31):
        raise KopsError("unknown flag: --instance-group")
    if "--set" in invocation.values and version[:2] < (1, 22):
        raise KopsError("unknown flag: --set")


def double_controls() -> set[str]:
    return {token.strip() for token in os.environ.get("KOPS_DOUBLE_FAIL", "").split(",") if token.strip()}


def obey_test_controls(command: str) -> None:
    controls = double_controls()
    if f"{command}-hangs" in controls:
        time.sleep(3600)
    if command in controls:
        raise KopsError(f"kops test double: {command} fails as KOPS_DOUBLE_FAIL asks")


@dataclass(frozen=True)
class StateStore:
    """The kops VFS state store on S3: s3://bucket[/prefix]/<cluster>/..."""

    s3: S3Client
    bucket: str
    prefix: str
    cluster: str

    @classmethod
    def from_invocation(cls, invocation: Invocation) -> StateStore:
        import boto3

        store = invocation.value("--state") or os.environ.get("KOPS_STATE_STORE", "")
        if not store:
            raise KopsError(STATE_STORE_HELP)
        match = re.match(r"^s3://([^/]+)/?(.*)$", store)
        if match is None:
            raise KopsError(f"unknown / unhandled state store scheme in {store!r}; the test double handles s3:// only")
        cluster = invocation.value("--name") or os.environ.get("KOPS_CLUSTER_NAME", "")
        if not cluster:
            raise KopsError("--name is required")
        prefix = match[2].strip("/")
        s3: S3Client = boto3.client("s3")
        return cls(s3=s3, bucket=match[1], prefix=f"{prefix}/" if prefix else "", cluster=cluster)

    def key(self, *parts: str) -> str:
        return self.prefix + "/".join((self.cluster, *parts))

    def read(self, *parts: str) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(*parts))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        except self.s3.exceptions.NoSuchBucket as error:
            raise KopsError(f"error reading state store: bucket {self.bucket!r} does not exist") from error
        text: str = body.decode("utf-8")
        return text

    def write(self, text: str, *parts: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.key(*parts), Body=text.encode("utf-8"))

    def require_cluster(self) -> None:
        if self.read("config") is None:
            raise KopsError(f'error reading cluster configuration: clusters.kops.k8s.io "{self.cluster}" not found')

    def instance_group(self, name: str) -> dict[str, Any] | None:
        import yaml

        text = self.read("instancegroup", name)
        if text is None:
            return None
        document: dict[str, Any] = yaml.safe_load(text)
        return document

    def instance_group_names(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.key("instancegroup", ""))
        return sorted(item["Key"].rsplit("/", 1)[-1] for item in listing.get("Contents", []))

    def save_instance_group(self, name: str, document: dict[str, Any]) -> None:
        self.write(to_yaml(document), "instancegroup", name)


def to_yaml(document: dict[str, Any]) -> str:
    import yaml

    # kops marshals through JSON, so keys come out sorted.
    text: str = yaml.safe_dump(document, sort_keys=True, default_flow_style=False)
    return text


def asg_name(cluster: str, name: str, document: dict[str, Any]) -> str:
    role = document.get("spec", {}).get("role")
    return f"{name}.masters.{cluster}" if role in CONTROL_PLANE_ROLES else f"{name}.{cluster}"


def cmd_version(invocation: Invocation) -> str:
    text = version_text()
    return f"Client version: {text} (git-v{text})\n"


def cmd_get_ig(invocation: Invocation) -> str:
    names = invocation.words[2:]
    output = invocation.value("-o")
    if output != "yaml":
        raise KopsError(f"the kops test double implements `get ig` with -o yaml only, not {output!r}")
    store = StateStore.from_invocation(invocation)
    store.require_cluster()
    documents = []
    for name in names or store.instance_group_names():
        document = store.instance_group(name)
        if document is None:
            raise KopsError(f'instancegroup not found "{name}"')
        documents.append(to_yaml(document))
    if not documents:
        sys.stderr.write("No InstanceGroup objects found\n")
    return "\n\n---\n\n".join(documents)


def cmd_edit_ig(invocation: Invocation) -> str:
    names = invocation.words[2:]
    if len(names) != 1:
        raise KopsError("Specify name of instance group to edit" if not names else "Can only edit one instance group")
    sets = invocation.values.get("--set")
    if not sets:
        raise KopsError("the kops test double implements `edit ig` with --set only (no editor)")
    store = StateStore.from_invocation(invocation)
    store.require_cluster()
    document = store.instance_group(names[0])
    if document is None:
        raise KopsError(f'InstanceGroup "{names[0]}" not found')
    spec = document.setdefault("spec", {})
    for assignment in sets:
        path, _, raw = assignment.partition("=")
        if path not in SETTABLE:
            raise KopsError(f"the kops test double implements --set for {sorted(SETTABLE)} only, not {path!r}")
        try:
            spec[SETTABLE[path]] = int(raw)
        except ValueError as error:
            raise KopsError(f'cannot parse "{raw}" as int32 for {path}') from error
    validate_sizes(spec)
    store.save_instance_group(names[0], document)
    return ""


def validate_sizes(spec: dict[str, Any]) -> None:
    """The size rules of kops' instance group validation (pkg/apis/kops/validation)."""
    low, high = spec.get("minSize"), spec.get("maxSize")
    if low is not None and low < 0:
        raise KopsError(f"spec.minSize: Invalid value: {low}: minSize must be >= 0")
    if high is not None and high < 0:
        raise KopsError(f"spec.maxSize: Invalid value: {high}: maxSize must be >= 0")
    if low is not None and high is not None and low > high:
        raise KopsError("spec.maxSize: Forbidden: maxSize must be greater than or equal to minSize.")


def check_kops_version_file(store: StateStore, ours: tuple[int, int, int]) -> None:
    """kops refuses to update a cluster last applied by a newer kops."""
    recorded = store.read("kops-version.txt")
    if recorded and parse_version(recorded) > ours:
        raise KopsError(
            f"this kops ({version_text()}) is older than the kops that last updated the cluster "
            f"({recorded.strip()}); upgrade kops"
        )


def cmd_update_cluster(invocation: Invocation) -> str:
    import boto3

    if len(invocation.words) > 2 and "--name" not in invocation.values:
        invocation.values["--name"] = [invocation.words[2]]
    store = StateStore.from_invocation(invocation)
    store.require_cluster()
    check_kops_version_file(store, parse_version(version_text()))
    wanted = invocation.values.get("--instance-group") or store.instance_group_names()
    autoscaling: AutoScalingClient = boto3.client("autoscaling")
    changes = []
    for name in wanted:
        document = store.instance_group(name)
        if document is None:
            raise KopsError(f'InstanceGroup "{name}" not found')
        changes += plan_group(autoscaling, store.cluster, name, document)
    if not invocation.yes:
        return render_plan(changes)
    if "update-skips-asg" not in double_controls():
        for change in changes:
            change.apply(autoscaling)
    # kops-version.txt is one of kops' managed files (pkg/model ConfigBuilder, fitasks.ManagedFile): written
    # only when its contents change, i.e. when a different kops version applies the cluster.
    if (store.read("kops-version.txt") or "").strip() != version_text():
        store.write(version_text(), "kops-version.txt")
    return "\nCluster changes have been applied to the cloud.\n"


@dataclass(frozen=True)
class AsgChange:
    name: str
    exists: bool
    current: tuple[int | None, int | None]
    wanted: tuple[int, int]

    def apply(self, autoscaling: AutoScalingClient) -> None:
        if not self.exists:
            raise KopsError(f"the kops test double does not create Auto Scaling groups ({self.name}); seed one first")
        autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.name, MinSize=self.wanted[0], MaxSize=self.wanted[1]
        )

    def render(self) -> str:
        lines = [f"  AutoscalingGroup/{self.name}"]
        for label, old, new in (
            ("MaxSize", self.current[1], self.wanted[1]),
            ("MinSize", self.current[0], self.wanted[0]),
        ):
            if old != new:
                lines.append(f"  \t{label:<20}\t {'<nil>' if old is None else old} -> {new}")
        return "\n".join(lines)


def plan_group(autoscaling: AutoScalingClient, cluster: str, name: str, document: dict[str, Any]) -> list[AsgChange]:
    spec = document.get("spec", {})
    # kops' defaults when the spec leaves sizes out: 2 for nodes, 1 for control plane and bastions.
    default = 2 if spec.get("role") == "Node" else 1
    wanted = (int(spec.get("minSize", default)), int(spec.get("maxSize", default)))
    group_name = asg_name(cluster, name, document)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    if not groups:
        return [AsgChange(group_name, exists=False, current=(None, None), wanted=wanted)]
    current = (groups[0]["MinSize"], groups[0]["MaxSize"])
    return [] if current == wanted else [AsgChange(group_name, exists=True, current=current, wanted=wanted)]


def render_plan(changes: list[AsgChange]) -> str:
    if not changes:
        return "\nNo changes need to be made.\n"
    created = [change.render() for change in changes if not change.exists]
    modified = [change.render() for change in changes if change.exists]
    text = ""
    if created:
        text += "Will create resources:\n" + "\n\n".join(created) + "\n\n"
    if modified:
        text += "Will modify resources:\n" + "\n\n".join(modified) + "\n"
    return text + "\nMust specify --yes to apply changes\n"


def dispatch(invocation: Invocation) -> str:
    words = invocation.words
    if words[:1] == ["version"]:
        obey_test_controls("version")
        return cmd_version(invocation)
    if len(words) >= 2 and words[0] == "get" and words[1] in IG_ALIASES:
        obey_test_controls("get")
        return cmd_get_ig(invocation)
    if len(words) >= 2 and words[0] == "edit" and words[1] in IG_ALIASES:
        obey_test_controls("edit")
        return cmd_edit_ig(invocation)
    if words[:2] == ["update", "cluster"]:
        obey_test_controls("update")
        return cmd_update_cluster(invocation)
    raise KopsError(f"the kops test double does not implement `kops {' '.join(words)}`")


def main(argv: list[str]) -> int:
    try:
        invocation = parse_args(argv)
        check_flags_supported(invocation, parse_version(version_text()))
        sys.stdout.write(dispatch(invocation))
    except KopsError as error:
        sys.stderr.write(f"\nError: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
