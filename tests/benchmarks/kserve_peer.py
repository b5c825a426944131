"""The peer a user would pick instead of the platform: ONE KServe Python model server process.

A ``kserve.Model`` whose ``predict`` takes the e-mail JSON (``{"email_id", "raw"}`` or
``{"email_id", "subject", "body", "sender", "date"?}``, alone or as v1 ``{"instances": [...]}``),
runs the same spam_core parsing and features — including the sender reputation lookup, through
an :class:`~spam_core.reputation.online.OnlineReputation` on the same Feast repository with the
same cache settings as the transformer (``--feast_repo``, ``--reputation_cache_ttl_s``,
``--reputation_cache_size``, ``--reputation_retry_after_s``; defaults: the transformer's) — and
the same ONNX model (onnxruntime, through :class:`spam_core.bundle.ModelBundle`) in process,
and answers what the gateway answers (label, probability, confidence, model name and version).
Benchmark code, not product.

Run as the KServe CLI runs a model (KServe's own flags, parsed by ``kserve.model_server``)::

    python -m tests.benchmarks.kserve_peer --bundle DIR --feast_repo REPO \\
        --model_name spam-detector --http_port 8080 --enable_grpc false \\
        --enable_latency_logging false --log_config_file quiet.json

``--enable_latency_logging false`` drops KServe's per-request latency line; the access log
and the timing middleware's ``kserve.trace`` lines are turned off through KServe's
``--log_config_file`` (:func:`quiet_log_config`, written by ``--write_log_config FILE``:
``uvicorn.access`` without a handler, which uvicorn reads as "no access log", and
``kserve.trace`` at WARNING). The peer runs in its own process: kserve's generated protobuf
modules clash with tritonclient's in one interpreter (duplicate ``inference.*`` symbols).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import kserve
from kserve.errors import InvalidInput

from spam_core.bundle import ModelBundle
from spam_core.errors import InvalidEmailError
from spam_core.features import ReputationSource
from spam_core.message import parse_fields, parse_raw
from spam_core.scoring import prediction
from tests.benchmarks.reputation_cost import REPUTATION_DEFAULTS


def quiet_log_config() -> dict[str, Any]:
    """KServe's default logging config with the access log and the trace lines off."""
    from kserve.logging import KSERVE_LOG_CONFIG

    config = copy.deepcopy(KSERVE_LOG_CONFIG)
    config["loggers"]["uvicorn.access"] = {"handlers": [], "level": "WARNING", "propagate": False}
    config["loggers"]["kserve.trace"]["level"] = "WARNING"
    return config


class SpamPeerModel(kserve.Model):
    """parse + features (reputation from the Feast online store) + onnxruntime in the model
    server's own process."""

    def __init__(self, name: str, bundle_dir: Path, reputation: ReputationSource) -> None:
        super().__init__(name)
        self.bundle_dir = bundle_dir
        self.reputation = reputation
        self.bundle: ModelBundle | None = None
        self.load()

    def load(self) -> bool:
        self.bundle = ModelBundle.load(self.bundle_dir)
        self.ready = True
        return self.ready

    @staticmethod
    def _record(email: Any):
        if not isinstance(email, dict) or not isinstance(email.get("email_id"), str):
            raise InvalidInput("an e-mail is an object with a string email_id")
        try:
            if email.get("raw") is not None:
                return parse_raw(email["raw"], email["email_id"])
            missing = [k for k in ("subject", "body", "sender") if email.get(k) is None]
            if missing:
                raise InvalidInput(f"missing {', '.join(missing)} (or give raw)")
            return parse_fields(
                email_id=email["email_id"],
                subject=email["subject"],
                body=email["body"],
                sender=email["sender"],
                date=email.get("date"),
            )
        except InvalidEmailError as exc:
            raise InvalidInput(str(exc)) from exc

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        bundle = self.bundle
        single = not (isinstance(payload, dict) and "instances" in payload)
        emails = [payload] if single else payload["instances"]
        if not emails:
            raise InvalidInput("no e-mails")
        records = [self._record(e) for e in emails]
        extractor = bundle.extractor
        if len(records) == 1:
            matrix = extractor.transform_record(records[0], self.reputation)[None]
        else:
            matrix = extractor.transform_records(records, self.reputation)
        threshold = bundle.threshold
        out = []
        for record, p in zip(records, bundle.predict_matrix(matrix).tolist(), strict=True):
            out.append(
                {
                    **prediction(record.email_id, p, threshold),
                    "model_name": bundle.meta.model_name,
                    "model_version": bundle.version,
                }
            )
        return out[0] if single else {"predictions": out}


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--bundle", type=Path, help="model bundle directory")
    parser.add_argument("--feast_repo", type=Path, help="Feast repository of the sender reputation")
    for key, default in REPUTATION_DEFAULTS.items():
        parser.add_argument(f"--reputation_{key}", type=type(default), default=default)
    parser.add_argument(
        "--write_log_config", type=Path, help="write quiet_log_config() as JSON there and exit"
    )
    args, _ = parser.parse_known_args()
    if args.write_log_config:
        args.write_log_config.write_text(json.dumps(quiet_log_config(), indent=1))
        return
    if args.bundle is None or args.feast_repo is None:
        parser.error("--bundle and --feast_repo are required")
    from spam_core.reputation.online import OnlineReputation

    reputation = OnlineReputation.from_repo(
        args.feast_repo,
        **{key: getattr(args, f"reputation_{key}") for key in REPUTATION_DEFAULTS},
    )
    reputation.warm_up()  # as the transformer's start-up: the store's connection is open
    model = SpamPeerModel(args.model_name, args.bundle, reputation)
    kserve.ModelServer().start([model])


if __name__ == "__main__":
    main()
