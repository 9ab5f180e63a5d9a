"""`python -I -m kops_runner`: the task's entrypoint on Fargate (kops_runner/Dockerfile). See run.py.

Everything the runner needs of its process environment is read here, then the environment is cut
to what the ECS agent set (isolation.py) before any AWS SDK is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kops_runner import isolation, run, task
from kops_runner.aws import AwsClients


def fargate(environ: Mapping[str, str]) -> run.Platform:
    endpoint = environ.get(task.METADATA_VARIABLE)

    def identify() -> task.TaskIdentity:
        return task.identify(task.metadata_endpoint(endpoint))

    return run.Platform(
        identify=identify,
        aws=lambda region: AwsClients(region),
        kops_binary=isolation.KOPS_PATH,
        kops_environment=lambda region, home: isolation.kops_environment(os.environ, region, home),
    )


def main() -> int:
    platform = fargate(dict(os.environ))
    isolation.isolate(os.environ)
    return run.main(platform)


if __name__ == "__main__":
    raise SystemExit(main())
