"""`python infra/upgrade.py --stage STAGE`: bring the tables of a deployment made by an older Marea up to date.

Run once after deploying the data stack of this version over an older one, with credentials that
may Query and UpdateItem the stage's decision log. Decisions recorded before the
``by_target_outcome`` index existed lack its key, so ``GET /decisions?target=...&outcome=...``
would not find them; this gives each its key (``<target_id>#<outcome>``). Safe to run again and
while Marea runs. Targets need nothing: those registered before resource claims existed are
found by the API's registry (chalicelib/store/targets.py) when another target claims their resource.

Then it lists what would keep an older kops runner in use (README, "Upgrading a deployment with kops
targets"): ACTIVE revisions of ``marea-<stage>-kops-runner`` older than the newest (Marea's role may
start any of them, and an older image takes its configuration from RunTask's overrides), and stored
kops targets that still carry a ``runner`` block (its subnets and security groups are dropped when
read: copy them into MAREA_KOPS_RUNNER_*). It exits 1 while any exist; it changes neither.
Credentials: also ecs:ListTaskDefinitions and Query on the targets table's by_listing index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The stage's IAM policy scales only workloads tagged with the stage (README, "Upgrading a deployment
# whose workloads are tagged marea:managed=true"); reading every group's and service's tags would
# need permissions this tool does not otherwise use, so it reminds instead of checking.
RETAG_HINT = """\
Marea's {stage} policy scales only groups and services tagged marea:managed={stage} (no longer "true"). Retag yours:
  aws autoscaling create-or-update-tags --tags \\
    ResourceId=<group>,ResourceType=auto-scaling-group,Key=marea:managed,Value={stage},PropagateAtLaunch=false
  aws ecs tag-resource --resource-arn <service-arn> --tags key=marea:managed,value={stage}"""


def older_runner_revisions(ecs: Any, stage: str) -> list[str]:
    """ARNs of the runner family's ACTIVE revisions but the newest (familyPrefix is a prefix: exact family only)."""
    family = f"marea-{stage}-kops-runner"
    arns = [
        arn
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
        for arn in page["taskDefinitionArns"]
        if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family
    ]
    arns.sort(key=lambda arn: int(arn.rsplit(":", 1)[-1]))
    return arns[:-1]


def targets_with_runner(dynamodb: Any, table: str) -> dict[str, Any]:
    """Stored kops targets whose document still has a `runner` block, by target id (read raw: the model drops it)."""
    from chalicelib.store.items import LISTING

    found: dict[str, Any] = {}
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName="by_listing",
        KeyConditionExpression="listing = :l",
        ExpressionAttributeValues={":l": {"S": LISTING}},
    )
    for item in (i for page in pages for i in page.get("Items", [])):
        doc = json.loads(item["doc"]["S"])
        if doc.get("kind") == "kops" and doc.get("runner") is not None:
            found[item["target_id"]["S"]] = doc["runner"]
    return found


def kops_runner_report(ecs: Any, dynamodb: Any, stage: str, targets_table: str) -> list[str]:
    """One line per thing to do before the runner of this version is the only one; [] when none."""
    lines = [
        f"deregister {arn} (an older runner revision: aws ecs deregister-task-definition --task-definition {arn})"
        for arn in older_runner_revisions(ecs, stage)
    ]
    lines += [
        f"target {target_id} still stores runner {json.dumps(runner, sort_keys=True)}: copy its subnets and "
        "security groups into MAREA_KOPS_RUNNER_*, then PATCH the target with runner: null"
        for target_id, runner in sorted(targets_with_runner(dynamodb, targets_table).items())
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))  # this checkout's chalicelib, whatever else is installed
    import boto3

    from chalicelib.store.decisions import DecisionLog

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="the stage whose tables to upgrade (marea-<stage>-...)")
    parser.add_argument("--decisions-table", help="the decision log's name, if not marea-<stage>-decisions")
    parser.add_argument("--targets-table", help="the target registry's name, if not marea-<stage>-targets")
    args = parser.parse_args(argv)
    table = args.decisions_table or f"marea-{args.stage}-decisions"
    dynamodb = boto3.client("dynamodb")
    updated = DecisionLog(dynamodb, table).add_missing_index_keys()
    print(f"{table}: {updated} decisions given their by_target_outcome key")
    print(RETAG_HINT.format(stage=args.stage))
    targets = args.targets_table or f"marea-{args.stage}-targets"
    todo = kops_runner_report(boto3.client("ecs"), dynamodb, args.stage, targets)
    if todo:
        print("kops runner: not upgraded yet (README, 'Upgrading a deployment with kops targets'):")
        print("\n".join(f"  {line}" for line in todo))
        return 1
    print("kops runner: ok (one ACTIVE revision at most, no stored target carries runner)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
