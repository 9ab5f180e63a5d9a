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
from collections.abc import Mapping, MutableMapping

# The kops binary the image installs (kops_runner/Dockerfile); not a setting.
KOPS_PATH = "/usr/local/bin/kops"
KOPS_SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
# Set by the ECS agent: the task role's credentials (a path on 169.254.170.2) and the SDK's user agent.
KEPT = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EXECUTION_ENV")
# The SDK's defaults that would otherwise read files or the instance metadata service.
PINNED = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def isolate(environ: MutableMapping[str, str]) -> None:
    """Cut the process environment to KEPT (+ PINNED), before any AWS SDK reads it."""
    kept = {name: environ[name] for name in KEPT if name in environ}
    environ.clear()
    environ.update({**kept, **PINNED})


def kops_environment(environ: Mapping[str, str], region: str, home: str | None = None) -> dict[str, str]:
    """kops' whole environment: its home (pinned in the task definition, else the password database's), a fixed
    PATH, the task role, the region."""
    return {
        "HOME": home or pwd.getpwuid(os.getuid()).pw_dir,
        "PATH": KOPS_SEARCH_PATH,
        **{name: environ[name] for name in KEPT if name in environ},
        **PINNED,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
