"""Evaluation by sender history: masks, slice metrics, the API field form, the sender-disjoint
split, and the cold-start gate."""

from __future__ import annotations

import numpy as np
import pytest

from spam_core.message import parse_raw
from spam_trainer.registry import Gates
from spam_trainer.slices import (
    disjoint_split,
    field_form,
    group_key,
    history_masks,
    in_disjoint_test,
    metrics_at,
)
from spam_trainer.train import gated_slices
from tests.utils import emails


def test_history_masks_partition_by_what_the_history_knows():
    stats = np.array([[3, 1, 9, 2], [0, 0, 5, 1], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=float)
    masks = history_masks(stats)
    assert masks["known_sender"].tolist() == [True, False, False, True]
    assert masks["unknown_sender_known_domain"].tolist() == [False, True, False, False]
    assert masks["unknown_sender"].tolist() == [False, False, True, False]
    assert (sum(m.astype(int) for m in masks.values()) == 1).all()


def test_slice_metrics_count_ham_false_positives():
    y = np.array([0, 0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.6, 0.3, 0.9, 0.4])
    m = metrics_at(y, s, 0.5)
    assert (m["ham"], m["spam"], m["fp"], m["fn"]) == (4, 2, 1, 1)
    assert m["ham_fpr"] == pytest.approx(0.25) and m["recall"] == pytest.approx(0.5)
    empty = metrics_at(np.array([]), np.array([]), 0.5)
    assert empty["n"] == 0 and np.isnan(empty["ham_fpr"]) and np.isnan(empty["log_loss"])


def test_field_form_is_what_a_gateway_caller_sends():
    raw = emails.simple(
        subject="Lunch?",
        body="Are we still on for Friday?",
        sender="Ann <ann@example.org>",
        date="Tue, 03 Sep 2002 10:15:00 +0200",
    )
    record = parse_raw(raw, "x")
    fields = field_form(record)
    assert (fields.subject, fields.sender_address, fields.body) == (
        record.subject,
        record.sender_address,
        record.body,
    )
    assert fields.date == record.date


def test_sender_disjoint_split_shares_no_sender_or_domain(corpus_records):
    records, labels = corpus_records
    y = np.array([lab == "spam" for lab in labels])
    split = disjoint_split(records, y)
    train = {group_key(r) for r in split.train}
    test = {group_key(r) for r in split.test}
    assert not train & test
    assert not {r.sender_address for r in split.train} & {
        r.sender_address for r in split.test if r.sender_address
    }
    assert 0.05 < len(split.test) / len(records) < 0.35
    assert split.test_y.min() == 0 and split.test_y.max() == 1
    # a fixed function of the key: the same split on every machine
    assert in_disjoint_test("example.org") == in_disjoint_test("example.org")


def test_cold_gate_blocks_staging_over_the_limit_and_when_not_measured():
    ok = {"f1": 0.99, "roc_auc": 0.999}
    sliced = {"test": {f: {"cold": {"ham_fpr": v}} for f, v in (("raw", 0.002), ("fields", 0.004))}}
    assert Gates().failures(ok | gated_slices(sliced)) == []
    sliced["test"]["fields"]["cold"]["ham_fpr"] = 0.01
    (failure,) = Gates().failures(ok | gated_slices(sliced))
    assert "unknown-sender ham FPR 0.0100 > 0.005" in failure
    assert Gates(cold_fpr_max=0.02).failures(ok | gated_slices(sliced)) == []
    assert Gates().failures(ok | gated_slices(None))  # not measured: no staging
