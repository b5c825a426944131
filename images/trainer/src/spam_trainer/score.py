"""Batch scoring of raw e-mails with no server: sources -> JSON lines.

Streams: messages are read one at a time, scored in batches of ``batch_size``, and written
out as they are scored, so memory stays bounded whatever the input size. Each message goes
through exactly the serving feature path (``parse_raw`` -> ``FeatureExtractor``) and the
exported ONNX model. A message that cannot be parsed gets a line with ``error`` and no score;
files that are not messages (``cmds`` lists, empty files) are counted, not scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from spam_core.bundle import ModelBundle
from spam_core.features import ReputationSource
from spam_core.ingest.sources import RawMessage, Skipped, iter_source
from spam_core.message.parse import email_id_for, parse_raw
from spam_core.message.record import EmailRecord
from spam_core.scoring import label


@dataclass
class ScoreSummary:
    scored: int = 0
    spam: int = 0
    errors: int = 0
    skipped: int = 0
    sources: list[str] = field(default_factory=list)


def _batches(
    items: Iterable[RawMessage | Skipped], size: int, summary: ScoreSummary
) -> Iterator[list[tuple[RawMessage, EmailRecord | None, str | None]]]:
    batch: list[tuple[RawMessage, EmailRecord | None, str | None]] = []
    for item in items:
        if isinstance(item, Skipped):
            summary.skipped += 1
            continue
        try:
            batch.append((item, parse_raw(item.data, email_id=email_id_for(item.data)), None))
        except Exception as exc:
            batch.append((item, None, f"{type(exc).__name__}: {exc}"))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _where(item: RawMessage) -> str:
    return item.member if item.member.startswith(item.source) else f"{item.source}:{item.member}"


def score_sources(
    sources: list[str],
    bundle: ModelBundle,
    out: IO[str],
    *,
    reputation: ReputationSource,
    model_version: str | None = None,
    batch_size: int = 256,
    on_batch: Callable[[int], None] | None = None,
    explain: int = 0,
) -> ScoreSummary:
    """``explain`` > 0: each line gets ``explanation`` with that many top contributions."""
    summary = ScoreSummary(sources=list(sources))
    explainer = bundle.explainer() if explain else None
    version = model_version or bundle.version
    threshold = bundle.threshold

    def items() -> Iterator[RawMessage | Skipped]:
        for source in sources:
            yield from iter_source(source)

    for batch in _batches(items(), batch_size, summary):
        ok = [(i, r) for i, r, e in batch if r is not None]
        matrix = bundle.extractor.transform_records([r for _, r in ok], reputation) if ok else None
        probs = bundle.predict_matrix(matrix) if ok else []
        by_id = {id(i): float(p) for (i, _), p in zip(ok, probs, strict=True)}
        why = {}
        if explainer is not None and ok:
            why = {
                id(i): e.as_dict()
                for (i, _), e in zip(ok, explainer.explain(matrix, explain), strict=True)
            }
        for item, record, error in batch:
            line: dict[str, object] = {"source": _where(item)}
            if record is None:
                line.update(
                    email_id=email_id_for(item.data),
                    spam_probability=None,
                    prediction=None,
                    model_version=version,
                    error=error,
                )
                summary.errors += 1
            else:
                p = by_id[id(item)]
                verdict = label(p, threshold)
                line.update(
                    email_id=record.email_id,
                    spam_probability=round(p, 6),
                    prediction=verdict,
                    model_version=version,
                )
                if explainer is not None:
                    line["explanation"] = why[id(item)]
                summary.scored += 1
                summary.spam += verdict == "spam"
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        if on_batch is not None:
            on_batch(len(batch))
    return summary


def score_to_file(sources: list[str], bundle: ModelBundle, output: Path, **kwargs) -> ScoreSummary:
    """Write atomically: a failed run leaves no half-written output behind."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            summary = score_sources(sources, bundle, fh, **kwargs)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return summary
