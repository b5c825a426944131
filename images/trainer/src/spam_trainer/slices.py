"""Evaluation by sender history: does the model hold for senders it has never seen?

The random split shares senders between train and test, so the headline test metrics mostly
measure e-mails whose sender the reputation history already knows. This module scores the test
split again, sliced by what the history knows at each e-mail's send time:

``all``                       the whole test split, with its real point-in-time reputation
``known_sender``              the sender address has earlier labeled e-mails
``unknown_sender_known_domain``  new address at a domain with history
``unknown_sender``            new address and new domain (nothing known at all)
``cold``                      the whole test split again with the reputation at its unknown
                              defaults — every e-mail from a fresh address at a fresh domain
``content_only``              (known-sender e-mails, reputation at defaults): what the content
                              alone does where history exists — reputation earns its place if
                              ``known_sender`` beats it

each in two forms: ``raw`` (the RFC 822 message, as ingest and ``score`` read it) and
``fields`` (``subject`` / ``body`` / ``sender`` / ``date`` as the gateway's API carries them,
built from the same message and parsed with ``parse_fields`` exactly as the transformer does:
the MIME structure, HTML markup and attachments are not in that form).

Every slice is measured at the served threshold. ``ham_fpr`` is the share of the slice's ham
e-mails marked spam (the quality gate ``SPAM_GATE_COLD_FPR_MAX`` bounds it on ``cold``);
``log_loss`` says how well the probabilities fit beyond the decision (on ``known_sender`` vs
``content_only`` it shows what the history adds where the decisions are all right anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import format_datetime

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from spam_core.features import FeatureExtractor, ReputationSource
from spam_core.features.reputation import STAT_COLUMNS, FixedStats, no_history
from spam_core.message import parse_fields
from spam_core.message.record import EmailRecord
from spam_core.scoring import spam_mask

FORMS = ("raw", "fields")
_SENDER, _DOMAIN = STAT_COLUMNS.index("sender_messages"), STAT_COLUMNS.index("domain_messages")

Scorer = Callable[[np.ndarray], np.ndarray]
"""A (n, N_FEATURES) float32 matrix -> spam probabilities."""


def field_form(record: EmailRecord) -> EmailRecord:
    """The same e-mail as the API's fields carry it (what a gateway caller sends)."""
    return parse_fields(
        email_id=record.email_id,
        subject=record.subject,
        body=record.body,
        sender=record.sender,
        date=format_datetime(record.date) if record.date is not None else None,
    )


@dataclass
class FormMatrices:
    """One split in both forms, with the reputation statistics its rows were built with."""

    y: np.ndarray
    stats: np.ndarray
    """(n, N_STATS) point-in-time statistics (``STAT_COLUMNS``)."""
    raw: np.ndarray
    fields: np.ndarray
    raw_cold: np.ndarray
    """``raw`` with the reputation columns at their unknown defaults."""
    fields_cold: np.ndarray

    def matrix(self, form: str, cold: bool = False) -> np.ndarray:
        return getattr(self, f"{form}_cold" if cold else form)


def form_matrices(
    records: Sequence[EmailRecord],
    y: np.ndarray,
    extractor: FeatureExtractor,
    reputation: ReputationSource,
) -> FormMatrices:
    stats = np.asarray(reputation.stats(records), dtype=np.float64)
    fields = [field_form(r) for r in records]
    known, none = FixedStats(stats), FixedStats(no_history(len(records)))
    return FormMatrices(
        y=np.asarray(y, dtype=np.float32),
        stats=stats,
        raw=extractor.transform_records(records, known),
        fields=extractor.transform_records(fields, known),
        raw_cold=extractor.transform_records(records, none),
        fields_cold=extractor.transform_records(fields, none),
    )


def history_masks(stats: np.ndarray) -> dict[str, np.ndarray]:
    sender = stats[:, _SENDER] > 0
    domain = stats[:, _DOMAIN] > 0
    return {
        "known_sender": sender,
        "unknown_sender_known_domain": ~sender & domain,
        "unknown_sender": ~sender & ~domain,
    }


def metrics_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The slice metrics (NaN where a slice has no e-mail of a class they need)."""
    y = np.asarray(y_true).astype(bool)
    pred = spam_mask(scores, threshold)
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    ham, spam = int((~y).sum()), int(y.sum())
    nan = float("nan")
    return {
        "n": float(len(y)),
        "ham": float(ham),
        "spam": float(spam),
        "roc_auc": float(roc_auc_score(y, scores)) if ham and spam else nan,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "recall": tp / spam if spam else nan,
        "ham_fpr": fp / ham if ham else nan,
        "fp": float(fp),
        "fn": float(fn),
        "log_loss": (
            float(log_loss(y, np.clip(scores, 1e-7, 1 - 1e-7), labels=[False, True]))
            if len(y)
            else nan
        ),
    }


def evaluate_slices(
    data: FormMatrices, score: Scorer, threshold: float
) -> dict[str, dict[str, dict[str, float]]]:
    """form -> slice -> metrics, at ``threshold``."""
    masks = history_masks(data.stats)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for form in FORMS:
        scores = score(data.matrix(form))
        cold = score(data.matrix(form, cold=True))
        known = masks["known_sender"]
        out[form] = {
            "all": metrics_at(data.y, scores, threshold),
            **{
                name: metrics_at(data.y[mask], scores[mask], threshold)
                for name, mask in masks.items()
            },
            "cold": metrics_at(data.y, cold, threshold),
            "content_only": metrics_at(data.y[known], cold[known], threshold),
        }
    return out


def flat_metrics(slices: dict[str, dict[str, dict[str, float]]], prefix: str) -> dict[str, float]:
    """MLflow metric names: ``<prefix>_<form>_<slice>_<metric>`` (finite values only)."""
    return {
        f"{prefix}_{form}_{name}_{metric}": value
        for form, by_slice in slices.items()
        for name, metrics in by_slice.items()
        for metric, value in metrics.items()
        if np.isfinite(value)
    }


def table_rows(
    slices: dict[str, dict[str, dict[str, float]]], evaluation: str
) -> list[dict[str, object]]:
    """One row per (form, slice): the table artifact and the printed summary."""
    return [
        {"evaluation": evaluation, "form": form, "slice": name, **metrics}
        for form, by_slice in slices.items()
        for name, metrics in by_slice.items()
    ]


# --------------------------------------------------------------------------- sender-disjoint
DISJOINT_TEST_SHARE = 0.15


def group_key(record: EmailRecord) -> str:
    """What the sender-disjoint split keeps together: the sender's domain (so no test sender
    *or* domain is in training), else the address, else the e-mail itself."""
    return record.sender_domain or record.sender_address or f"id:{record.email_id}"


def in_disjoint_test(key: str, share: float = DISJOINT_TEST_SHARE) -> bool:
    """A fixed function of the group key (the same on every machine, like the dataset split)."""
    digest = hashlib.sha256(f"sender-disjoint:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass
class DisjointSplit:
    train: list[EmailRecord]
    train_y: np.ndarray
    test: list[EmailRecord]
    test_y: np.ndarray
    train_groups: int
    test_groups: int


def disjoint_split(
    records: Sequence[EmailRecord], y: np.ndarray, share: float = DISJOINT_TEST_SHARE
) -> DisjointSplit:
    """All labeled e-mails, split by :func:`group_key`: no key is on both sides."""
    keys = [group_key(r) for r in records]
    test = np.array([in_disjoint_test(k, share) for k in keys])
    y = np.asarray(y, dtype=np.float32)
    return DisjointSplit(
        train=[r for r, t in zip(records, test, strict=True) if not t],
        train_y=y[~test],
        test=[r for r, t in zip(records, test, strict=True) if t],
        test_y=y[test],
        train_groups=len({k for k, t in zip(keys, test, strict=True) if not t}),
        test_groups=len({k for k, t in zip(keys, test, strict=True) if t}),
    )


def evaluate_disjoint(
    split: DisjointSplit,
    extractor: FeatureExtractor,
    reputation: ReputationSource,
    fit: Callable[[np.ndarray, np.ndarray], Scorer],
    threshold: float,
) -> dict[str, dict[str, dict[str, float]]]:
    """Train with ``fit`` on the split's training side (its point-in-time reputation), score
    the test side — whose senders and domains no training e-mail has, so their reputation is
    the unknown default by construction — in both forms, at ``threshold``."""
    from spam_core.features import NoHistory
    from spam_trainer.features import training_matrices

    # both forms, as the served model is fit; the linear margin cross-fitted, as in training
    score = fit(
        np.vstack(training_matrices(extractor, split.train, split.train_y, reputation)),
        np.concatenate([split.train_y, split.train_y]),
    )
    fields = [field_form(r) for r in split.test]
    out = {}
    for form, records in (("raw", split.test), ("fields", fields)):
        scores = score(extractor.transform_records(records, NoHistory()))
        out[form] = {"all": metrics_at(split.test_y, scores, threshold)}
    return out
