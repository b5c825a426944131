"""``spam-gateway``: serve the API (default), or make an API-key entry.

    spam-gateway                      # serve on SPAM_GATEWAY_HOST:SPAM_GATEWAY_PORT (8080)
    spam-gateway serve --port 9000
    spam-gateway hash-key --name ci --role viewer        # new random key + its key-file entry
    echo -n "$KEY" | spam-gateway hash-key --name ci --stdin

    spam-gateway materialize         # the scheduled reputation materialization (feedback)

``hash-key`` prints the entry (JSON) on stdout and a generated key on stderr, so
``spam-gateway hash-key --name ci >> entries.jsonl`` keeps the secret out of the file.
"""

from __future__ import annotations

import argparse
import sys

import orjson


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from spam_gateway.app.api.http_protocol import JsonErrorHttpToolsProtocol
    from spam_gateway.app.core.config import get_settings

    settings = get_settings()
    uvicorn.run(
        "spam_gateway.app.main:create_app",
        factory=True,
        host=args.host or settings.HOST,
        port=args.port or settings.PORT,
        workers=args.workers or settings.WORKERS,
        loop="uvloop",
        http=JsonErrorHttpToolsProtocol,  # httptools; malformed HTTP in the JSON envelope
        access_log=False,  # the gateway writes its own structured access log
        log_config=None,  # stdlib logging is routed through structlog by the app
        server_header=False,
        # in-flight requests get 15 s, then the inference-log flush up to
        # INFERENCE_LOG_TIMEOUT_S + 2: inside the chart's terminationGracePeriodSeconds (30)
        timeout_graceful_shutdown=15,
    )


def _hash_key(args: argparse.Namespace) -> int:
    from spam_gateway.app.core.security import ApiKeyError, new_key

    given = sys.stdin.read().strip() if args.stdin else None
    try:
        key, entry = new_key(args.name, args.role, given)
    except ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if given is None:
        print(f"API key (shown once): {key}", file=sys.stderr)
    sys.stdout.write(orjson.dumps(entry).decode() + "\n")
    return 0


def _materialize() -> int:
    from pydantic import ValidationError

    from spam_gateway.app.core.config import JobSettings
    from spam_gateway.app.core.logging import configure_logging
    from spam_gateway.app.feedback.materialize import materialize

    try:
        settings = JobSettings()  # no API keys: the job serves no request
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    try:
        summary = materialize(settings)
    except (ValueError, OSError) as exc:  # configuration, a missing repository or log
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="spam-gateway", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the API (default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    hk = sub.add_parser("hash-key", help="new API key and its key-file entry")
    hk.add_argument("--name", required=True)
    hk.add_argument("--role", default="viewer", choices=["viewer", "reporter", "operator"])
    hk.add_argument("--stdin", action="store_true", help="hash the key read from stdin")
    sub.add_parser(
        "materialize",
        help="offline reputation history and the feedback log's totals into the online store",
    )
    args = parser.parse_args(argv)
    if args.command == "materialize":
        raise SystemExit(_materialize())
    if args.command == "hash-key":
        raise SystemExit(_hash_key(args))
    if args.command is None:
        args = serve.parse_args([])
    _serve(args)


if __name__ == "__main__":
    main()
