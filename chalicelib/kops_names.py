"""What a kops cluster, instance group and state store may be called: one definition for Marea and its runner.

Registration (chalicelib/models/targets.py) and the kops runner (kops_runner/settings.py) both
validate with these, so Marea never accepts a target its runner would later refuse. The runner's
image copies this file (kops_runner/Dockerfile): it must stay free of imports beyond the standard library.
"""

from __future__ import annotations

# Kubernetes object names, which kops requires of clusters (a DNS-1123 subdomain, lowercase). Also
# guarantees that no argument handed to kops starts with "-".
CLUSTER_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CLUSTER_NAME_MAX_LENGTH = 253
# An instance group: one DNS-1123 label, since its Auto Scaling group is named `<ig>.<cluster>`.
INSTANCE_GROUP_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
INSTANCE_GROUP_MAX_LENGTH = 63
# An S3 bucket, optionally with a prefix of plain path characters: the only state store Marea's runner
# supports (AWS), and nothing a shell or kops could read as anything but a path.
STATE_STORE_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._/-]*)?$"
STATE_STORE_MAX_LENGTH = 1024
