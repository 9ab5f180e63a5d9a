"""Policies a backtest can replay: Marea's engine (``marea``, ``scheduled``, any Marea target) and
models of other autoscalers (``aws-target-tracking``, ``hpa``) written as their own pure code."""
