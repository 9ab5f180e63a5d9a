"""Marea's local stand-ins for the AWS parts the embedded AWS (moto) does not run.

moto stores CloudWatch alarms and metric data but never evaluates an alarm, and EventBridge under
moto never invokes a Lambda nor fires a schedule. This package evaluates alarms the way CloudWatch
documents it and delivers the resulting EventBridge events to Marea's handlers.
"""
