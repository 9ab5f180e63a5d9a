"""The AWS services the kops runner's task reaches, derived from what its roles allow.

A service newly granted to the task or execution role needs an interface endpoint (infra/kops-runner.yaml,
RunnerEgress=vpc-endpoints) or the runner cannot reach it: the tests derive the list from the roles so
such a grant fails them until its endpoint exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# An IAM prefix whose calls go to other endpoint names than its own.
ENDPOINTS_OF_PREFIX: dict[str, tuple[str, ...]] = {
    # ECR's API (GetAuthorizationToken) is ecr.api; the image pull is ecr.dkr, and the layers come from
    # ECR's S3 bucket (AWS ECR User Guide, "Amazon ECR interface VPC endpoints").
    "ecr": ("ecr.api", "ecr.dkr", "s3"),
}

# Calls no role grants because AWS allows them to every principal.
CALLED_WITHOUT_A_GRANT: dict[str, str] = {
    # kops' AccountInfo (upup/pkg/fi/cloudup/awsup/aws_cloud.go) calls sts:GetCallerIdentity, which
    # needs no permission (STS API Reference, GetCallerIdentity: "No permissions are required to
    # perform this operation").
    "sts": "kops reads the account and partition with GetCallerIdentity",
}


def allowed_actions(document: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            listed = statement["Action"]
            actions += [listed] if isinstance(listed, str) else list(listed)
    return actions


def endpoint_services(actions: Iterable[str]) -> set[str]:
    """The endpoint service names (com.amazonaws.<region>.<name>) the actions' calls go to, plus STS."""
    services = set(CALLED_WITHOUT_A_GRANT)
    for action in actions:
        prefix = action.split(":", 1)[0]
        services.update(ENDPOINTS_OF_PREFIX.get(prefix, (prefix,)))
    return services
