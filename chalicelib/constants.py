"""Names and patterns that app.py and the API need at import time.

Kept free of imports on purpose: `import app` is the Lambda's cold start, a measured figure, so
the modules it loads must not pull pydantic, boto3 or the engine (those load on first use).
"""

from __future__ import annotations

# ECS task group of kops runner tasks: the EventBridge rule for their STOPPED events filters on it.
RUNNER_TASK_GROUP = "marea-kops-runner"
# The only container override Marea passes the kops runner, and the only one the runner accepts.
RUNNER_DECISION_VARIABLE = "MAREA_DECISION_ID"
TARGET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
