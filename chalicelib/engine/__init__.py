"""The pure decision engine: no boto3, no environment, no clock but the ``now`` it is given.

Policies propose (``target_tracking``, ``step_scaling``, ``scheduled``, ``predictive``), ``combine`` merges
their votes the AWS way, ``normalize`` enforces every invariant, ``explain`` says why.
"""

from chalicelib.engine.decide import decide
from chalicelib.engine.history import remember

__all__ = ["decide", "remember"]
