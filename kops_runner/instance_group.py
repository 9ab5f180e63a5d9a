"""What the runner reads from kops: an InstanceGroup object (`kops get ig -o yaml`) and the kops version."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# kops v1alpha2 roles: Node, ControlPlane (Master before kops 1.27), APIServer, Bastion.
# Only node groups carry workloads Marea may size; the others are the cluster's own machinery.
NODE_ROLE = "Node"
INSTANCE_GROUP_KIND = "InstanceGroup"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InstanceGroupMetadata(_Loose):
    name: str


class InstanceGroupSpec(_Loose):
    role: str | None = None
    # kops fills absent sizes with defaults at apply time; an absent value is reported as unknown.
    min_size: int | None = Field(default=None, alias="minSize")
    max_size: int | None = Field(default=None, alias="maxSize")


class InstanceGroup(_Loose):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: InstanceGroupMetadata
    spec: InstanceGroupSpec

    @property
    def is_node_group(self) -> bool:
        return self.spec.role == NODE_ROLE


class UnreadableOutput(ValueError):
    """kops printed something that is not what the runner asked for."""


def parse_instance_group(text: str, name: str) -> InstanceGroup:
    """Parse `kops get ig NAME -o yaml`; exactly one InstanceGroup named NAME is expected."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise UnreadableOutput(f"kops get ig printed invalid YAML: {error}") from error
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise UnreadableOutput(f"kops get ig printed {len(documents)} documents, expected one InstanceGroup")
    document: dict[str, Any] = documents[0]
    try:
        group = InstanceGroup.model_validate(document)
    except ValidationError as error:
        raise UnreadableOutput(f"kops get ig printed an object the runner cannot read: {error}") from error
    if group.kind != INSTANCE_GROUP_KIND or group.metadata.name != name:
        raise UnreadableOutput(
            f"kops get ig printed {group.kind} {group.metadata.name!r}, expected InstanceGroup {name!r}"
        )
    return group


class KopsVersion(NamedTuple):
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def supports_instance_group_flag(self) -> bool:
        """`kops update cluster --instance-group NAME` limits the update to one group (kops >= 1.31)."""
        return (self.major, self.minor) >= (1, 31)


# `kops version` prints "Client version: 1.36.2 (git-v1.36.2)" (early releases "Version 1.x.y"): take the first x.y.z.
_VERSION = re.compile(r"\b[vV]?(\d+)\.(\d+)\.(\d+)\b")


def parse_kops_version(text: str) -> KopsVersion:
    match = _VERSION.search(text)
    if match is None:
        raise UnreadableOutput(f"kops version printed no version number: {text.strip()[:200]!r}")
    return KopsVersion(int(match[1]), int(match[2]), int(match[3]))
