"""The feature vector: layout, batch == single (bit for bit), fields == raw, engineered and
reputation values.

Corpus e-mails get their real point-in-time reputation (``train_reputation``: the training
stage's Feast retrieval); hand-made e-mails get ``NoHistory`` (every sender unknown)."""

from __future__ import annotations

import math
from email.message import EmailMessage

import numpy as np
import pytest

from spam_core.features import (
    LINEAR_COLUMN,
    LINEAR_NAMES,
    N_CONTENT,
    N_FEATURES,
    N_TFIDF,
    NAMED_FEATURES,
    REPUTATION_NAMES,
    FeatureExtractor,
    NoHistory,
    reputation_features,
)
from spam_core.features.spec import ENGINEERED_NAMES
from spam_core.message import parse_fields, parse_raw
from tests.utils.emails import nested_multipart

NO_HISTORY = NoHistory()
DEFAULTS = [0.0, 0.5, 0.0, 0.5]


def _named(extractor: FeatureExtractor, vector: np.ndarray) -> dict[str, float]:
    return dict(zip(extractor.feature_names, vector.tolist(), strict=True))


def test_vector_layout(extractor, corpus_records, train_reputation):
    records, _ = corpus_records
    v = extractor.transform_record(records[0], train_reputation)
    assert v.shape == (N_FEATURES,) == (529,)
    assert v.dtype == np.float32
    assert (N_TFIDF, LINEAR_COLUMN, N_CONTENT) == (500, 524, 525)
    assert extractor.feature_names[:N_TFIDF] == [
        f"tfidf:{t}" for t in extractor.artifacts.tfidf.vocabulary
    ]
    assert tuple(extractor.feature_names[N_TFIDF:]) == NAMED_FEATURES
    assert tuple(extractor.feature_names[N_TFIDF:LINEAR_COLUMN]) == ENGINEERED_NAMES
    assert tuple(extractor.feature_names[LINEAR_COLUMN:N_CONTENT]) == LINEAR_NAMES
    assert tuple(extractor.feature_names[N_CONTENT:]) == REPUTATION_NAMES


def test_batch_and_single_paths_are_bit_identical_on_the_corpus(
    extractor, corpus_records, train_reputation
):
    records, _ = corpus_records
    batch = extractor.transform_records(records, train_reputation)
    single = np.stack([extractor.transform_record(r, train_reputation) for r in records])
    assert batch.shape == (len(records), N_FEATURES)
    assert np.array_equal(batch, single)
    # the reputation block is what the source says, through reputation_features
    stats = train_reputation.stats(records)
    assert np.array_equal(batch[:, N_CONTENT:], reputation_features(stats).astype(np.float32))
    known = stats[:, 0] > 0
    assert 0.2 < known.mean() < 0.9  # real history, not the defaults everywhere
    assert (batch[~known, N_CONTENT] == 0).all() and (batch[known, N_CONTENT] > 0).all()
    # the content part does not depend on the reputation source
    assert np.array_equal(
        batch[:, :N_CONTENT], extractor.transform_records(records, NO_HISTORY)[:, :N_CONTENT]
    )


def test_without_history_the_reputation_block_takes_its_defaults(extractor, corpus_records):
    records, _ = corpus_records
    block = extractor.transform_records(records[:50], NO_HISTORY)[:, N_CONTENT:]
    assert block.tolist() == [DEFAULTS] * 50
    assert extractor.transform_record(records[0], NO_HISTORY)[N_CONTENT:].tolist() == DEFAULTS


def test_tfidf_block_is_unit_norm_or_zero(extractor, corpus_records):
    records, _ = corpus_records
    block = extractor.transform_records(records[:500], NO_HISTORY)[:, :N_TFIDF].astype(np.float64)
    norms = np.linalg.norm(block, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    assert (norms > 0).mean() > 0.99


def test_empty_batch(extractor):
    assert extractor.transform_records([], NO_HISTORY).shape == (0, N_FEATURES)


def test_same_email_as_fields_and_as_raw_gives_the_same_vector(extractor):
    fields = {
        "subject": "URGENT: claim your PRIZE now!!!",
        "body": "Dear friend, you are a WINNER. Click here http://203.0.113.9/claim "
        "and send $100 to receive $1,000,000 cash. Unsubscribe: www.spam.example",
        "sender": "Lottery Board <board1234@yahoo.com>",
        "date": "Sat, 07 Sep 2002 03:14:00 +0800",
    }
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["Date"] = fields["subject"], fields["sender"], fields["date"]
    msg.set_content(fields["body"])
    a = extractor.transform_record(parse_fields(email_id="x", **fields), NO_HISTORY)
    b = extractor.transform_raw(msg.as_bytes(), NO_HISTORY, email_id="x")
    assert np.array_equal(a, b)
    assert a[N_CONTENT:].tolist() == DEFAULTS


def test_engineered_values_of_a_lottery_scam(extractor):
    r = parse_fields(
        email_id="x",
        subject="URGENT: claim your PRIZE now!!!",
        body="You are a WINNER. Click here http://203.0.113.9/claim and send $100.",
        sender="Lottery Board <board1234@yahoo.com>",
        date="Sat, 07 Sep 2002 03:14:00 +0800",
    )
    f = _named(extractor, extractor.transform_record(r, NO_HISTORY))
    assert f["url_count_log"] == pytest.approx(math.log1p(1))
    assert f["url_ip_host"] == 1.0
    assert f["exclamation_count_log"] == pytest.approx(math.log1p(3))
    assert f["money_symbol_count_log"] == pytest.approx(math.log1p(1))
    assert f["spam_phrase_count_log"] >= math.log1p(4)  # urgent, prize, winner, click here
    assert f["sender_freemail"] == 1.0
    assert f["sender_local_digit_ratio"] == pytest.approx(4 / 9)
    assert f["sender_has_display_name"] == 1.0 and f["sender_missing"] == 0.0
    assert f["send_hour"] == 3.0 and f["date_missing"] == 0.0
    assert f["subject_is_reply"] == 0.0 and f["has_html"] == 0.0
    assert 0.2 < f["subject_uppercase_ratio"] < 0.5


def test_engineered_values_of_a_reply_without_sender_or_date(extractor):
    r = parse_fields(
        email_id="x",
        subject="[dev-list] Re: build broken",
        body="the build is fixed now",
        sender=None,
        date=None,
    )
    f = _named(extractor, extractor.transform_record(r, NO_HISTORY))
    assert f["subject_is_reply"] == 1.0
    assert f["sender_missing"] == 1.0 and f["sender_freemail"] == 0.0
    assert f["date_missing"] == 1.0 and f["send_hour"] == -1.0
    assert f["uppercase_ratio"] == 0.0 and f["url_count_log"] == 0.0


def test_structure_features_of_a_nested_multipart(extractor):
    f = _named(extractor, extractor.transform_raw(nested_multipart(), NO_HISTORY))
    assert f["attachment_count_log"] == pytest.approx(math.log1p(2))
    assert f["mime_part_count_log"] == pytest.approx(math.log1p(4))
    assert f["has_html"] == 1.0 and f["html_only"] == 0.0
    assert f["url_domain_count_log"] == pytest.approx(math.log1p(1))


def test_html_only(extractor):
    r = parse_fields(email_id="x", body="<html><body><font size=7>BUY</font></body></html>")
    f = _named(extractor, extractor.transform_record(r, NO_HISTORY))
    assert f["html_only"] == 1.0 and f["has_html"] == 1.0
    assert f["html_tag_count_log"] == pytest.approx(math.log1p(3))


def test_all_values_finite_and_in_documented_ranges(extractor, corpus_records, train_reputation):
    records, _ = corpus_records
    m = extractor.transform_records(records, train_reputation)
    assert np.isfinite(m).all()
    eng = m[:, N_TFIDF:N_CONTENT]
    names = list(ENGINEERED_NAMES)
    for ratio in (
        "uppercase_ratio",
        "digit_ratio",
        "non_ascii_ratio",
        "subject_uppercase_ratio",
        "sender_local_digit_ratio",
    ):
        col = eng[:, names.index(ratio)]
        assert col.min() >= 0 and col.max() <= 1, ratio
    hour = eng[:, names.index("send_hour")]
    assert hour.min() >= -1 and hour.max() <= 23
    assert (m[:, :N_TFIDF] >= 0).all() and (m[:, :N_TFIDF] <= 1 + 1e-6).all()
    rep = m[:, N_CONTENT:]
    counts, rates = rep[:, [0, 2]], rep[:, [1, 3]]
    assert (counts >= 0).all() and (counts < 12).all()  # [0, 12)
    assert (rates > 0).all() and (rates < 1).all()  # (0, 1)


def test_features_separate_the_classes(extractor, corpus_records, train_reputation):
    """Sanity, not a model: several named features differ clearly between the labels."""
    records, labels = corpus_records
    m = extractor.transform_records(records, train_reputation)[:, N_TFIDF:]
    spam = np.array([lab == "spam" for lab in labels])
    names = list(NAMED_FEATURES)
    for name, factor in (
        ("has_html", 3),
        ("spam_phrase_count_log", 1.5),
        ("subject_uppercase_ratio", 1.3),
        ("url_count_log", 1.2),
    ):
        j = names.index(name)
        assert m[spam, j].mean() > factor * m[~spam, j].mean(), name
    j = names.index("subject_is_reply")
    assert m[~spam, j].mean() > 3 * m[spam, j].mean()
    # earlier spam from the same domain: the history carries the label signal
    j = names.index("domain_spam_rate")
    assert m[spam, j].mean() > m[~spam, j].mean() + 0.2


def test_raw_corpus_message_round_trips_through_the_dataset(extractor, dataset_dir, corpus_dir):
    """A record read back from Parquet gives the vector of the same message parsed afresh."""
    import tarfile

    from spam_core.ingest import read_records

    records, _ = read_records(dataset_dir)
    by_id = {r.email_id: r for r in records}
    checked = 0
    with tarfile.open(corpus_dir / "20030228_spam.tar.bz2") as tar:
        for member in tar:
            if not member.isfile() or member.name.endswith("cmds"):
                continue
            raw = tar.extractfile(member).read()
            fresh = parse_raw(raw)
            assert fresh == by_id[fresh.email_id]
            assert np.array_equal(
                extractor.transform_record(fresh, NO_HISTORY),
                extractor.transform_record(by_id[fresh.email_id], NO_HISTORY),
            )
            checked += 1
            if checked == 100:
                break
    assert checked == 100
