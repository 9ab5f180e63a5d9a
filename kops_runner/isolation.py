"""What the runner keeps of its process environment, and the whole environment kops gets.

A RunTask caller can set any environment variable in the runner's container. The interpreter runs
isolated (`python -I`: no PYTHON* variables, no user site, no script directory on sys.path), kops is a
fixed path, nothing runs through a shell, and before any AWS SDK is loaded the environment is cut to
the few variables the ECS agent sets: no AWS_ENDPOINT_URL*, AWS_CA_BUNDLE, credential or config files,
proxies or SSL_CERT_* can redirect the runner's own AWS calls, and kops gets a minimal environment
built here, never KOPS_* (KOPS_BASE_URL, KOPS_FEATURE_FLAGS, KOPS_STATE_STORE), LD_*, BASH_ENV.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Mapping, MutableMapping

# The kops binary the image installs (kops_runner/Dockerfile); not a setting.
KOPS_PATH = "/usr/local/bin/kops"
KOPS_SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
# Set by the ECS agent: the task role's credentials (a path on 169.254.170.2) and the SDK's user agent, each kept
# only in the form the agent sets. A caller can override them too, and botocore fetches credentials from
# f"http://169.254.170.2{relative_uri}": "@host/x" or ".host/x" there would make the host the caller's.
KEPT = {
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": re.compile(r"/v2/credentials/[A-Za-z0-9-]{1,128}"),
    "AWS_EXECUTION_ENV": re.compile(r"[A-Za-z0-9_]{1,64}"),  # AWS_ECS_FARGATE
}
# The SDK's defaults that would otherwise read files or the instance metadata service.
PINNED = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def agent_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The KEPT variables of ``environ`` that have the agent's form; any other value is dropped (for the
    credentials: the run then has none, and fails)."""
    return {name: environ[name] for name, form in KEPT.items() if form.fullmatch(environ.get(name, ""))}


def isolate(environ: MutableMapping[str, str]) -> None:
    """Cut the process environment to KEPT (+ PINNED), before any AWS SDK reads it."""
    kept = agent_variables(environ)
    environ.clear()
    environ.update({**kept, **PINNED})


def kops_environment(environ: Mapping[str, str], region: str, home: str | None = None) -> dict[str, str]:
    """kops' whole environment: its home (pinned in the task definition, else the password database's), a fixed
    PATH, the task role, the region."""
    return {
        "HOME": home or pwd.getpwuid(os.getuid()).pw_dir,
        "PATH": KOPS_SEARCH_PATH,
        **agent_variables(environ),
        **PINNED,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
