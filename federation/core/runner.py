"""Named, idempotent steps that either run or print their plan.

A long job is a list of steps, in the manner of kubeadm's phases. With
``--dry-run`` each step returns the changes it would make (create, update,
unchanged, delete) and nothing is written; otherwise each step runs inside a
progress frame that ends with ✓ or ✗ and its duration.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TextIO

from federation.core.errors import FederationError
from federation.core.status import Status

ACTIONS = ("create", "update", "unchanged", "delete", "absent", "write", "remove", "wait", "run")


@dataclass
class Change:
    """One planned effect: ``action`` on ``target`` in kubeconfig ``context`` ('' for local files)."""

    action: str
    target: str
    context: str = ""
    note: str = ""


@dataclass
class Step:
    name: str
    summary: str
    run: Callable[[], None]
    plan: Callable[[], list[Change]] = field(default=lambda: [])
    enabled: bool = True


class StepFailed(FederationError):
    """Wraps a step's error once, naming the step."""

    def __init__(self, step: str, error: FederationError) -> None:
        super().__init__(f"step {step!r} failed: {error.message}", error.hint)
        self.exit_code = error.exit_code
        self.cause = error


def execute(steps: list[Step], status: Status, dry_run: bool = False, output: str = "text", stream: TextIO | None = None) -> list[tuple[str, list[Change]]]:
    """Run ``steps`` in order, or collect and print their plans when ``dry_run`` is set."""
    stream = stream or sys.stdout
    active = [step for step in steps if step.enabled]

    if dry_run:
        plan = []
        for step in active:
            try:
                plan.append((step.name, step.plan()))
            except FederationError as error:
                raise StepFailed(step.name, error) from error
        print_plan(plan, output, stream)
        return plan

    for step in active:
        with status.step(f"[{step.name}] {step.summary}"):
            try:
                step.run()
            except StepFailed:
                raise
            except FederationError as error:
                raise StepFailed(step.name, error) from error
    return []


def print_plan(plan: list[tuple[str, list[Change]]], output: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if output == "json":
        document = {"dryRun": True, "steps": [{"name": name, "changes": [asdict(change) for change in changes]} for name, changes in plan]}
        json.dump(document, stream, indent=2)
        stream.write("\n")
        return

    print("Plan (dry run, nothing was changed):", file=stream)
    for name, changes in plan:
        print(f"[{name}]", file=stream)
        if not changes:
            print("  (nothing to do)", file=stream)
        for change in changes:
            where = f"  (context {change.context})" if change.context else ""
            note = f"  # {change.note}" if change.note else ""
            print(f"  {change.action:<10} {change.target}{where}{note}", file=stream)
