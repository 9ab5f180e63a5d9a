"""Marea's kops runner: resizes one kops instance group, the way an operator would, from a short-lived task.

Marea launches it on ECS Fargate (RunTask) with one override, the decision id; it reads its request
from the decision and its configuration from its own task definition (README.md), the instance group
with `kops get ig`, refuses anything that is not a node group or not in range, runs
`kops edit ig --set` and `kops update cluster --yes` (or only the dry run), checks that the
state store and the Auto Scaling group agree, and reports one JSON outcome on stdout and in the
decision record. It is a separate image: of `chalicelib` it imports only `kops_names` (copied into the image).
"""
