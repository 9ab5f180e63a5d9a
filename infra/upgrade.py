"""`python infra/upgrade.py --stage STAGE`: bring the tables of a deployment made by an older Marea up to date.

Run once after deploying the data stack of this version over an older one, with credentials that
may Query and UpdateItem the stage's decision log. Decisions recorded before the
``by_target_outcome`` index existed lack its key, so ``GET /decisions?target=...&outcome=...``
would not find them; this gives each its key (``<target_id>#<outcome>``). Safe to run again and
while Marea runs. Targets need nothing: those registered before resource claims existed are
found by the API's registry (chalicelib/store/targets.py) when another target claims their resource.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The stage's IAM policy scales only workloads tagged with the stage (README, "Upgrading a deployment
# whose workloads are tagged marea:managed=true"); reading every group's and service's tags would
# need permissions this tool does not otherwise use, so it reminds instead of checking.
RETAG_HINT = """\
Marea's {stage} policy scales only groups and services tagged marea:managed={stage} (no longer "true"). Retag yours:
  aws autoscaling create-or-update-tags --tags \\
    ResourceId=<group>,ResourceType=auto-scaling-group,Key=marea:managed,Value={stage},PropagateAtLaunch=false
  aws ecs tag-resource --resource-arn <service-arn> --tags key=marea:managed,value={stage}"""


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))  # this checkout's chalicelib, whatever else is installed
    import boto3

    from chalicelib.store.decisions import DecisionLog

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True, help="the stage whose tables to upgrade (marea-<stage>-...)")
    parser.add_argument("--decisions-table", help="the decision log's name, if not marea-<stage>-decisions")
    args = parser.parse_args(argv)
    table = args.decisions_table or f"marea-{args.stage}-decisions"
    updated = DecisionLog(boto3.client("dynamodb"), table).add_missing_index_keys()
    print(f"{table}: {updated} decisions given their by_target_outcome key")
    print(RETAG_HINT.format(stage=args.stage))
    return 0


if __name__ == "__main__":
    sys.exit(main())
