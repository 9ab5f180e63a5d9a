"""Test support for the kops runner: the kops CLI test double (never copied into the runner image)."""
