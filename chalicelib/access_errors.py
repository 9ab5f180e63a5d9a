"""Which AWS errors mean Marea could not reach a target where it lives, and what its operator should check.

A target in another account or Region (docs/multi-account.md) fails in ways one in Marea's own never does:

- STS refuses AssumeRole (``AccessDenied``): the role does not trust Marea's Lambda role, the external id
  differs, or Marea's own policy does not let it assume that role.
- The session's token is refused: ``ExpiredToken``/``ExpiredTokenException`` (it expired),
  ``InvalidClientTokenId``/``UnrecognizedClientException``/``AuthFailure`` (not valid where it was used:
  the Region is not enabled in that account, as opt-in Regions are not by default). (``RequestExpired``
  is a signature older than 15 minutes, a skewed clock: not the session's fault, not counted here.)
- ``RegionDisabledException``: the member account has STS deactivated in Marea's Region, where Marea asks
  for its credentials.

Such a failure is that target's alone: its decision records the reason (ACCOUNT_UNREACHABLE) and nothing
else waits on it.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ActuationError
from chalicelib.models.location import Location
from chalicelib.models.targets import TargetBase

EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException"})
NOT_VALID_HERE = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure"})
STS_REGION_DISABLED = "RegionDisabledException"


def _code(error: BaseException | None) -> tuple[str, str]:
    if not isinstance(error, ClientError):
        return "", ""
    return str(error.response.get("Error", {}).get("Code", "")), error.operation_name


def unreachable(error: BaseException | None, location: Location) -> str | None:
    """What keeps Marea from reaching ``location``, if ``error`` says so; None for any other error."""
    if location.is_home:
        return None
    code, operation = _code(error)
    account = location.account_id or "Marea's own account"
    if operation == "AssumeRole" and code == "AccessDenied":
        return (
            f"Marea may not assume {location.role_arn}: its trust policy must name Marea's Lambda role"
            f"{' and the external id' if location.external_id else ''} (infra/marea-spoke.yaml), and the stage's"
            " policy must allow sts:AssumeRole on it"
        )
    if code == STS_REGION_DISABLED:
        return f"account {account} has STS deactivated in the Region Marea runs in, where Marea assumes its role"
    if code in EXPIRED:
        return f"the session in account {account} expired; the next evaluation assumes the role again"
    if code in NOT_VALID_HERE:
        return (
            f"the credentials are not valid in {location.region or 'this Region'} for account {account}: "
            "is the Region enabled in that account (opt-in Regions are not by default)?"
        )
    return None


def explained(error: ClientError | BotoCoreError, target: TargetBase) -> str:
    """The error as AWS gave it, with what to check when it keeps Marea from reaching the target."""
    hint = unreachable(error, target.location)
    return f"{error} ({hint})" if hint else str(error)


def caused(error: ActuationError, cause: BaseException) -> ActuationError:
    """``error`` raised from ``cause``, for an error built before it is raised (a batch's reading)."""
    error.__cause__ = cause
    return error


def expired(error: BaseException | None) -> bool:
    """Whether the session itself expired (assume the role again); a token refused in a Region that is not
    enabled stays refused, and dropping the role's session there would only re-assume it every evaluation."""
    return _code(error)[0] in EXPIRED
