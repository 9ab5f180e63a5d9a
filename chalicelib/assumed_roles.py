"""Sessions as the role a target names in another account (STS AssumeRole), refreshed before they expire.

Reads share one session per role (``marea-read``), assumed on its first call and again by botocore before
its credentials expire (RefreshableCredentials: 15 minutes ahead when it can, 10 when it must). A change is
made in a session of its own named by its decision id, so that the member account's CloudTrail ties each
change to the decision that made it (docs/multi-account.md). Either way AssumeRole is first called by the
first AWS call that needs the credentials: an AccessDenied from STS is that call's error, and fails only
the evaluations that made it. STS is called in Marea's own Region: session tokens of a regional STS
endpoint are valid in every Region (IAM User Guide, "Manage AWS STS in an AWS Region"), provided the member
account has not deactivated STS in that Region.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.models.location import Location

if TYPE_CHECKING:
    import botocore.session
    from botocore.credentials import DeferredRefreshableCredentials
    from mypy_boto3_sts import STSClient

READ_SESSION_NAME = "marea-read"
# AssumeRole's default, and the longest STS gives a role assumed with another role's credentials (role
# chaining, as Marea's Lambda role does), whatever the role's MaxSessionDuration: more fails the call.
SESSION_DURATION_S = 3600

_lock = threading.Lock()
# One set of read credentials per role (and external id): valid in every Region of its account.
_reading: dict[tuple[str, str | None], DeferredRefreshableCredentials] = {}


def role_session(
    location: Location, session_name: str | None, sts: Callable[[], STSClient], loader: Any = None
) -> botocore.session.Session:
    """A botocore session acting as ``location``'s role: the shared read session, or one named ``session_name``.
    ``loader``: the botocore data loader to share (service models read from disk once)."""
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver

    credentials = _credentials(location, session_name, sts)

    class Assumed(CredentialProvider):
        METHOD = "assume-role"

        def load(self) -> Any:
            return credentials

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([Assumed()]))
    if loader is not None:
        core.register_component("data_loader", loader)
    return core


def _credentials(
    location: Location, session_name: str | None, sts: Callable[[], STSClient]
) -> DeferredRefreshableCredentials:
    from botocore.credentials import DeferredRefreshableCredentials

    def assume(name: str) -> Callable[[], dict[str, str]]:
        return lambda: _assume(sts(), location, name)

    if session_name is not None:
        return DeferredRefreshableCredentials(refresh_using=assume(session_name), method="assume-role")
    key = (_role(location), location.external_id)
    with _lock:
        credentials = _reading.get(key)
        if credentials is None:
            credentials = DeferredRefreshableCredentials(refresh_using=assume(READ_SESSION_NAME), method="assume-role")
            _reading[key] = credentials
        return credentials


def _assume(sts: STSClient, location: Location, session_name: str) -> dict[str, str]:
    """One AssumeRole: the credentials in the form botocore's refreshable credentials read."""
    arguments: dict[str, Any] = {
        "RoleArn": _role(location),
        "RoleSessionName": session_name,
        "DurationSeconds": SESSION_DURATION_S,
    }
    if location.external_id is not None:
        arguments["ExternalId"] = location.external_id
    given = sts.assume_role(**arguments)["Credentials"]
    return {
        "access_key": given["AccessKeyId"],
        "secret_key": given["SecretAccessKey"],
        "token": given["SessionToken"],
        "expiry_time": given["Expiration"].isoformat(),
    }


def _role(location: Location) -> str:
    if location.role_arn is None:
        raise ValueError(f"{location.describe()} names no role to assume")
    return location.role_arn


def forget(location: Location) -> None:
    """Assume the role again on the next read (its session was refused: an expired or revoked token)."""
    if location.role_arn is None:
        return
    with _lock:
        _reading.pop((location.role_arn, location.external_id), None)


def reset() -> None:
    with _lock:
        _reading.clear()
