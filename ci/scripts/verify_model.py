#!/usr/bin/env python3
"""Registry checks of the model workflows, against the MLflow registry ($MLFLOW_TRACKING_URI).

model-deploy's first job: the alias (staging) exists and its version passed the quality gates
the trainer records (model version tag `gate` = `passed`, set by
spam_trainer.registry.apply_staging_gate):

    python ci/scripts/verify_model.py --model spam-detector

Moving an alias back is `spam-platform rollback` (rollback.yaml): it also checks that the
version is published and records who and why.

Prints `version=<N>` (and appends it to $GITHUB_OUTPUT when set, for the following jobs).
Exit 0 on success, 1 with the reason when the check fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _gate_problem(model: str, version, label: str) -> str:
    if version.tags.get("gate") == "passed":
        return ""
    reasons = version.tags.get("gate_failures", "no gate result recorded")
    return f"{model} v{version.version} ({label}) did not pass its gates: {reasons}"


def verify(model: str, alias: str) -> tuple[str | None, str]:
    """(version, problem): version is None when the check fails, problem says why."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model, alias)
    except MlflowException as exc:
        return None, f"{model}@{alias} does not resolve: {exc.message}"
    problem = _gate_problem(model, version, alias)
    return (None, problem) if problem else (str(version.version), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Registered model name")
    parser.add_argument("--alias", default="staging", help="Alias to verify (default staging)")
    args = parser.parse_args(argv)
    for label, value in (("model", args.model), ("alias", args.alias)):
        if not _NAME.match(value):
            print(f"verify-model: invalid {label} {value!r}", file=sys.stderr)
            return 2
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        print("verify-model: MLFLOW_TRACKING_URI is not set", file=sys.stderr)
        return 2
    version, problem = verify(args.model, args.alias)
    if version is None:
        print(f"verify-model: {problem}", file=sys.stderr)
        return 1
    print(f"version={version}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(f"version={version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
