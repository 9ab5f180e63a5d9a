"""Where a target's resources live: Marea's own account and Region, or another one reached through a role (pure).

A target that names nothing lives where Marea runs and is read and changed with Marea's own role. One that
names a ``region`` is reached there with the same role; one that names a ``role_arn`` lives in that role's
account and is read and changed as that role (chalicelib/assumed_roles.py, docs/multi-account.md).
"""

from __future__ import annotations

from dataclasses import dataclass

# IAM and STS formats (IAM User Guide, "IAM identifiers"; STS AssumeRole: ExternalId 2-1224 characters).
ACCOUNT_ID_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
ROLE_ARN_PATTERN = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$"
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_+=,.@:/-]+$"
EXTERNAL_ID_LENGTH = (2, 1224)


@dataclass(frozen=True)
class Location:
    """None everywhere: Marea's own account and Region, with its own role."""

    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    @property
    def account_id(self) -> str | None:
        """The account of the role Marea assumes; None for its own."""
        return self.role_arn.split(":")[4] if self.role_arn else None

    @property
    def is_home(self) -> bool:
        return self.region is None and self.role_arn is None

    def describe(self) -> str:
        """For people: where the target lives."""
        account = f"account {self.account_id} (as {self.role_arn})" if self.role_arn else "Marea's own account"
        region = f"Region {self.region}" if self.region else "Marea's own Region"
        return f"{account}, {region}"


HOME = Location()
