#!/usr/bin/env python3
"""Deploy the spam-platform chart to one environment: the one `helm upgrade` every workflow runs
(model-serving installs or upgrades the release, model-deploy and rollback move one model track).

    python ci/scripts/deploy.py --environment staging --image-tag 0.2.1 \
        --values-file platform-values.yaml --track staging=8 --track production=7
    python ci/scripts/deploy.py --environment production --reuse-values --track production=8

Always `helm upgrade --install --atomic --wait` with values/<environment>.yaml first, then the
extra values files (ml-platform's `terraform output -raw platform_values_yaml`), then the
--set of the image tag and of each named track. With --reuse-values the release keeps
everything else it has (the other track's version included): a model deploy changes exactly
the track it names. --dry-run prints the command instead of running it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "spam-platform"
ENVIRONMENTS = ("staging", "production")
_VERSION = re.compile(r"^[1-9][0-9]*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")


class DeployError(ValueError):
    """Bad input: the message says which."""


def parse_tracks(pairs: list[str]) -> dict[str, str]:
    tracks: dict[str, str] = {}
    for pair in pairs:
        track, sep, version = pair.partition("=")
        if not sep or track not in ENVIRONMENTS or not _VERSION.match(version):
            raise DeployError(f"--track takes <staging|production>=<version>, not {pair!r}")
        if track in tracks:
            raise DeployError(f"--track {track} given twice")
        tracks[track] = version
    return tracks


def helm_command(
    *,
    environment: str,
    release: str,
    namespace: str,
    image_tag: str | None,
    tracks: dict[str, str],
    values_files: list[Path],
    reuse_values: bool,
    timeout: str,
    helm: str = "helm",
) -> list[str]:
    if environment not in ENVIRONMENTS:
        raise DeployError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    for label, name in (("release", release), ("namespace", namespace)):
        if not _NAME.match(name):
            raise DeployError(f"{label} {name!r} is not a DNS label")
    if image_tag is not None and not _TAG.match(image_tag):
        raise DeployError(f"image tag {image_tag!r} is not a valid tag")
    env_file = REPO / "values" / f"{environment}.yaml"
    for path in (env_file, *values_files):
        if not Path(path).is_file():
            raise DeployError(f"values file {path} does not exist")
    if not reuse_values and set(tracks) != set(ENVIRONMENTS):
        raise DeployError(
            "a full install needs both track versions (--track staging=N --track production=M); "
            "use --reuse-values to move one track of an existing release"
        )
    cmd = [helm, "upgrade", "--install", release, str(CHART), "--namespace", namespace]
    cmd += ["--create-namespace", "--atomic", "--wait", "--timeout", timeout]
    if reuse_values:
        cmd.append("--reuse-values")
    for path in (env_file, *values_files):
        cmd += ["-f", str(path)]
    if image_tag is not None:
        cmd += ["--set-string", f"global.imageTag={image_tag}"]
    for track, version in sorted(tracks.items()):
        cmd += ["--set-string", f"global.model.tracks.{track}.version={version}"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    parser.add_argument("--release", default="spam-platform")
    parser.add_argument("--namespace", default="spam-platform")
    parser.add_argument("--image-tag", help="Tag of the platform images (global.imageTag)")
    parser.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="TRACK=VERSION",
        help="Model version of a track (repeatable)",
    )
    parser.add_argument(
        "--values-file",
        action="append",
        default=[],
        type=Path,
        help="Extra values file after values/<environment>.yaml (repeatable)",
    )
    parser.add_argument("--reuse-values", action="store_true")
    parser.add_argument("--timeout", default="15m")
    parser.add_argument("--dry-run", action="store_true", help="Print the command only")
    args = parser.parse_args(argv)
    try:
        cmd = helm_command(
            environment=args.environment,
            release=args.release,
            namespace=args.namespace,
            image_tag=args.image_tag,
            tracks=parse_tracks(args.track),
            values_files=args.values_file,
            reuse_values=args.reuse_values,
            timeout=args.timeout,
        )
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    if shutil.which(cmd[0]) is None:
        print("deploy: helm is not on PATH", file=sys.stderr)
        return 2
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
