"""The kops CLI, called with argument lists (never a shell), a timeout, no stdin and a minimal environment.

Each method is one kops command the runner needs. A non-zero exit becomes `KopsFailed`, except
the "not found" answers, which are the caller's mistake and become `BadRequest`.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kops_runner import log
from kops_runner.deadline import Deadline
from kops_runner.errors import BadRequest, DeadlinePassed, KopsFailed
from kops_runner.instance_group import (
    InstanceGroup,
    KopsVersion,
    UnreadableOutput,
    parse_instance_group,
    parse_kops_version,
)
from kops_runner.outcome import clip

# kops' own words for a missing object: `instancegroup not found "x"` (cmd/kops/get_instancegroups.go),
# `InstanceGroup "x" not found` (edit), `clusters.kops.k8s.io "x" not found` (the state-store clientset).
_NOT_FOUND = re.compile(r'instancegroup not found|InstanceGroup "[^"]*" not found|cluster\S* "[^"]*" not found', re.I)

ProcessRunner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class KopsCli:
    binary: str
    cluster: str
    state_store: str
    timeout_s: float
    # kops' whole environment (isolation.kops_environment): nothing of the runner's own reaches it.
    environment: Mapping[str, str] = field(default_factory=dict)
    # Injected so tests can record the exact argument lists; production uses subprocess.run.
    run_process: ProcessRunner = field(default=subprocess.run)
    deadline: Deadline = field(default_factory=lambda: Deadline(at=None))

    def version(self) -> KopsVersion:
        output = self._call(["version"])
        try:
            return parse_kops_version(output)
        except UnreadableOutput as error:
            raise KopsFailed(str(error)) from error

    def get_instance_group(self, name: str) -> InstanceGroup:
        output = self._call(["get", "ig", name, *self._target(), "-o", "yaml"])
        try:
            return parse_instance_group(output, name)
        except UnreadableOutput as error:
            raise KopsFailed(str(error)) from error

    def set_sizes(self, name: str, min_size: int, max_size: int) -> None:
        """`kops edit ig --set` (kops >= 1.22) validates and writes the spec, unlike writing the S3 object."""
        sets = ["--set", f"spec.minSize={min_size}", "--set", f"spec.maxSize={max_size}"]
        self._call(["edit", "ig", name, *self._target(), *sets])

    def update_cluster(self, *, yes: bool, instance_group: str | None) -> str:
        """Without `--yes` kops only prints what it would change (its dry run)."""
        args = ["update", "cluster", *self._target()]
        if yes:
            args.append("--yes")
        if instance_group is not None:
            args += ["--instance-group", instance_group]
        return self._call(args)

    def _target(self) -> list[str]:
        return ["--name", self.cluster, "--state", self.state_store]

    def _call(self, args: Sequence[str]) -> str:
        argv = [self.binary, *args]
        command = " ".join(["kops", *args[:2]])  # what the message names, whatever the binary's path
        timeout_s = self.deadline.bound(self.timeout_s, command)
        started = time.monotonic()
        try:
            result = self.run_process(
                argv,
                stdin=subprocess.DEVNULL,
                env=dict(self.environment),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            log.event("kops_call", argv=argv, timed_out=True, timeout_s=timeout_s)
            if timeout_s < self.timeout_s:
                raise DeadlinePassed(f"{command} was stopped at the runner's deadline ({timeout_s:g} s)") from error
            raise KopsFailed(f"{command} timed out after {timeout_s:g} s") from error
        except OSError as error:
            log.event("kops_call", argv=argv, error=str(error))
            raise KopsFailed(f"{command} could not start: {error}") from error
        duration_ms = round((time.monotonic() - started) * 1000)
        log.event("kops_call", argv=argv, exit_code=result.returncode, duration_ms=duration_ms)
        _log_output(result)
        if result.returncode != 0:
            detail = clip((result.stderr or result.stdout).strip(), 1000)
            message = f"{command} exited with {result.returncode}: {detail}"
            if _NOT_FOUND.search(detail):
                raise BadRequest(message)
            raise KopsFailed(message)
        return result.stdout


def _log_output(result: subprocess.CompletedProcess[Any]) -> None:
    """kops' own output goes to the task log (stderr), kept short."""
    for stream in ("stdout", "stderr"):
        text = (getattr(result, stream) or "").strip()
        if text:
            log.event("kops_output", stream=stream, text=clip(text, 4000))
