"""SigV4 for API Gateway's IAM authorization (service `execute-api`), with the caller's AWS credentials.

botocore does the signing, from the same credential chain as the AWS CLI (environment, profile, SSO,
instance role); nothing here stores or prints a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

SERVICE = "execute-api"


class CredentialsMissing(Exception):
    """No AWS credentials were found to sign with."""


@lru_cache(maxsize=1)
def _session() -> Any:
    """One botocore session per process: the console's forwarder signs every call the page makes, and a new
    session would look the credentials up again each time (an SSO cache read, an instance-role request).
    Refreshable credentials refresh themselves inside it."""
    import botocore.session

    return botocore.session.get_session()


def signed_headers(
    method: str, url: str, headers: Mapping[str, str], body: bytes, region: str | None
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (Authorization, X-Amz-Date, X-Amz-Security-Token when a session)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = _session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CredentialsMissing(
            "no AWS credentials to sign the request with (set AWS_PROFILE, run `aws sso login`, or export keys)"
        )
    chosen_region = region or session.get_config_variable("region")
    if not chosen_region:
        raise CredentialsMissing("no AWS Region to sign for: set AWS_REGION or use the API's execute-api URL")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), SERVICE, chosen_region).add_auth(request)
    return dict(request.headers.items())
