"""``spam-transformer``: settings (environment, ``SPAM_TRANSFORMER_*``) → load → uvicorn.

Flags override the matching settings for local runs; ``--check`` loads and cross-checks both
tracks' artifacts and exits (0 when they are servable). Exit code 2: bad settings or artifacts.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from spam_core.errors import ArtifactError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spam-transformer",
        description="Feature transformer: POST /v1/predict, GET /health, /ready, /metrics. "
        "Configured by SPAM_TRANSFORMER_* environment variables (see spam_transformer.config).",
    )
    parser.add_argument("--host", help="listen address (SPAM_TRANSFORMER_HOST)")
    parser.add_argument("--port", type=int, help="listen port (SPAM_TRANSFORMER_PORT)")
    parser.add_argument("--protocol", choices=["grpc", "http"], help="SPAM_TRANSFORMER_PROTOCOL")
    parser.add_argument("--workers", type=int, help="SPAM_TRANSFORMER_WORKERS")
    parser.add_argument(
        "--check", action="store_true", help="load both tracks' artifacts, then exit"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {
        key.upper(): value
        for key, value in vars(args).items()
        if key != "check" and value is not None
    }
    from spam_transformer.config import TransformerSettings
    from spam_transformer.server import build_dataplane, configure, serve

    try:
        settings = TransformerSettings(**overrides)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = "SPAM_TRANSFORMER_" + ".".join(str(p) for p in error["loc"])
            print(f"spam-transformer: {name}: {error['msg']}", file=sys.stderr)
        return 2
    configure(settings)
    try:
        if args.check or settings.WORKERS > 1:  # workers load on their own: fail fast here
            from spam_transformer.metrics import TransformerMetrics

            build_dataplane(settings, TransformerMetrics()).load()
            if args.check:
                return 0
        serve(settings)
    except ArtifactError as exc:
        print(f"spam-transformer: cannot load the model artifacts: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
