"""`python infra/smoke_check.py --stage STAGE --cluster C --service S`: after deploying the Lambdas, check
that the stage's policy still lets Marea scale an ECS service, on AWS itself.

The policy's `UpdateService` Denies rest on the condition keys ECS puts in the request, which AWS's
documentation does not fully state and no test here can check (README, "Least privilege"). So this
makes the call Marea makes, under the stage's own policy: it creates a temporary role holding
``.chalice/policy-<stage>.json`` (the document `chalice deploy` attaches), assumes it, calls
``UpdateService`` with the service's current ``desiredCount`` (a no-op for the service) and deletes
the role. Run it with credentials that may create, assume and delete that role. Exit 0: Marea may
scale; 1: refused (roll the Lambdas back); 2: bad input (nothing created).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# IAM is eventually consistent: a new role may be refused by STS, and its policy by ECS, for a few seconds.
PROPAGATION_S = 60.0
RETRY_EVERY_S = 3.0


def smoke_role_name(stage: str) -> str:
    return f"marea-{stage}-smoke-check"


def _service(ecs: Any, cluster: str, service: str, stage: str) -> dict[str, Any]:
    found = ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"]).get("services", [])
    if not found or found[0].get("status") != "ACTIVE":
        raise ValueError(f"no ACTIVE service {service} in cluster {cluster}")
    tags = {t["key"]: t["value"] for t in found[0].get("tags", [])}
    if tags.get("marea:managed") != stage:
        raise ValueError(f"{service} is not tagged marea:managed={stage}: Marea's {stage} role may not scale it")
    return dict(found[0])


def _retrying(call: Any, codes: tuple[str, ...]) -> Any:
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + PROPAGATION_S
    while True:
        try:
            return call()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in codes or time.monotonic() > deadline:
                raise
            time.sleep(RETRY_EVERY_S)


def check(session: Any, stage: str, cluster: str, service: str) -> str:
    """Raises ValueError for bad input and ClientError when the stage's policy refuses the call."""
    policy = (ROOT / ".chalice" / f"policy-{stage}.json").read_text(encoding="utf-8")
    current = _service(session.client("ecs"), cluster, service, stage)
    account = session.client("sts").get_caller_identity()["Account"]
    iam, role = session.client("iam"), smoke_role_name(stage)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException as exc:
        raise ValueError(f"role {role} exists (a run that did not finish?): delete it first") from exc
    try:
        iam.put_role_policy(RoleName=role, PolicyName="marea", PolicyDocument=policy)
        assumed = _retrying(
            lambda: session.client("sts").assume_role(RoleArn=arn, RoleSessionName="marea-smoke-check"),
            ("AccessDenied",),
        )["Credentials"]
        as_marea = session.client(
            "ecs",
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
        )
        count = current["desiredCount"]
        # Exactly what Marea sends (tests/infra/aws_calls.py ONLY_FIELDS), with the count it already has.
        _retrying(
            lambda: as_marea.update_service(cluster=cluster, service=service, desiredCount=count),
            ("AccessDeniedException", "AccessDenied"),
        )
        return f"{service}: UpdateService desiredCount={count} allowed by policy-{stage}.json"
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="marea")
        iam.delete_role(RoleName=role)


def main(argv: list[str] | None = None) -> int:
    import boto3
    from botocore.exceptions import ClientError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="the stage whose policy to check (.chalice/policy-<stage>.json)")
    parser.add_argument("--cluster", required=True, help="the ECS cluster of one service Marea scales")
    parser.add_argument("--service", required=True, help="that service, tagged marea:managed=<stage>")
    args = parser.parse_args(argv)
    if not (ROOT / ".chalice" / f"policy-{args.stage}.json").is_file():
        print(f"no .chalice/policy-{args.stage}.json", file=sys.stderr)
        return 2
    try:
        print(check(boto3.session.Session(), args.stage, args.cluster, args.service))
    except ValueError as exc:
        print(f"smoke check not run: {exc}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"Marea's {args.stage} policy refuses UpdateService: {exc}. Roll the Lambdas back.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
