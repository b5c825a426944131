"""Reputation history: event times, running totals, and no label leakage.

The synthetic cases pin ``build_history``'s edge cases. The corpus test recomputes, in plain
Python and independently of pandas / Feast, what every e-mail of every split may know at its
own send time (train e-mails of the same sender / domain sent strictly earlier) and holds the
training stage's Feast point-in-time retrieval to it, e-mail by e-mail.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate

import numpy as np
import pandas as pd
import pytest

from spam_core.features.reputation import STAT_COLUMNS
from spam_core.reputation.history import (
    EVENT_SHIFT,
    NO_DATES,
    build_history,
    entity_frame,
    event_times,
)
from spam_core.reputation.repo import DOMAIN_KEY, DOMAIN_VIEW, SENDER_KEY, SENDER_VIEW
from spam_trainer.reputation import STATS_FILE

T0 = datetime(2002, 9, 1, 12, 0, 0, tzinfo=UTC)


def _rows(table: pd.DataFrame, key: str) -> list[tuple]:
    return [
        (r[key], r["event_timestamp"].to_pydatetime(), r["messages"], r["spam"])
        for r in table.to_dict("records")
    ]


# --------------------------------------------------------------------------- event times
def test_event_times_are_utc_and_a_missing_date_is_the_latest_known_one():
    plus2 = timezone(timedelta(hours=2))
    dates = [datetime(2002, 9, 1, 14, 0, tzinfo=plus2), None, T0 + timedelta(days=3), None]
    times = event_times(dates)
    assert str(times.dtype) == "datetime64[ns, UTC]"
    assert times.tolist() == [
        pd.Timestamp(T0),  # 14:00 +02:00 is 12:00 UTC
        pd.Timestamp(T0 + timedelta(days=3)),
        pd.Timestamp(T0 + timedelta(days=3)),
        pd.Timestamp(T0 + timedelta(days=3)),
    ]


def test_event_times_without_any_date():
    assert event_times([None, None]).tolist() == [pd.Timestamp(NO_DATES)] * 2
    assert len(event_times([])) == 0


# --------------------------------------------------------------------------- build_history
def test_running_totals_are_stamped_one_second_after_the_emails_they_count():
    # out of order on purpose; two e-mails of sender a share one second
    senders = ["a", "a", "b", "a", "a"]
    domains = ["x.org", "x.org", "x.org", "x.org", "y.org"]
    times = pd.Series(
        pd.to_datetime(
            [
                T0 + timedelta(seconds=60),
                T0,
                T0 + timedelta(seconds=30),
                T0,
                T0 + timedelta(seconds=61),
            ],
            utc=True,
        )
    )
    spam = [False, True, True, True, False]
    history = build_history(senders, domains, times, spam)
    assert set(history) == {SENDER_VIEW, DOMAIN_VIEW}
    assert _rows(history[SENDER_VIEW], SENDER_KEY) == [
        ("a", T0 + EVENT_SHIFT, 2, 2),  # both same-second e-mails in one row, seen only after
        ("a", T0 + timedelta(seconds=60) + EVENT_SHIFT, 3, 2),
        ("a", T0 + timedelta(seconds=61) + EVENT_SHIFT, 4, 2),
        ("b", T0 + timedelta(seconds=30) + EVENT_SHIFT, 1, 1),
    ]
    assert _rows(history[DOMAIN_VIEW], DOMAIN_KEY) == [
        ("x.org", T0 + EVENT_SHIFT, 2, 2),
        ("x.org", T0 + timedelta(seconds=30) + EVENT_SHIFT, 3, 3),
        ("x.org", T0 + timedelta(seconds=60) + EVENT_SHIFT, 4, 3),
        ("y.org", T0 + timedelta(seconds=61) + EVENT_SHIFT, 1, 0),
    ]
    for table in history.values():
        assert str(table["event_timestamp"].dtype) == "datetime64[ns, UTC]"
        assert str(table["messages"].dtype) == str(table["spam"].dtype) == "int64"


def test_empty_keys_are_never_written():
    times = pd.Series(pd.to_datetime([T0, T0 + timedelta(seconds=5), T0], utc=True))
    history = build_history(["", "c", ""], ["", "c.org", "d.org"], times, [True, True, False])
    assert _rows(history[SENDER_VIEW], SENDER_KEY) == [("c", T0 + timedelta(seconds=6), 1, 1)]
    assert _rows(history[DOMAIN_VIEW], DOMAIN_KEY) == [
        ("c.org", T0 + timedelta(seconds=6), 1, 1),
        ("d.org", T0 + EVENT_SHIFT, 1, 0),
    ]
    nobody = build_history(["", ""], ["", ""], times[:2], [True, False])
    assert all(table.empty for table in nobody.values())
    assert list(nobody[SENDER_VIEW].columns) == [SENDER_KEY, "event_timestamp", "messages", "spam"]


def test_missing_dates_add_to_the_history_last():
    dates = [T0, None, T0 + timedelta(hours=5), None]
    history = build_history(
        ["m", "m", "n", "m"], ["", "", "", ""], event_times(dates), [1, 0, 1, 1]
    )
    latest = T0 + timedelta(hours=5)
    assert _rows(history[SENDER_VIEW], SENDER_KEY) == [
        ("m", T0 + EVENT_SHIFT, 1, 1),
        ("m", latest + EVENT_SHIFT, 3, 2),  # both undated e-mails, at the latest known date
        ("n", latest + EVENT_SHIFT, 1, 1),
    ]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        build_history(["a"], ["a.org", "b.org"], pd.Series(pd.to_datetime([T0], utc=True)), [1])


def test_entity_frame_has_one_row_per_email_at_its_own_time():
    times = event_times([T0, None])
    frame = entity_frame(["e1", "e2"], ["a@x.org", ""], ["x.org", ""], times)
    assert list(frame.columns) == ["email_id", SENDER_KEY, DOMAIN_KEY, "event_timestamp"]
    assert frame["email_id"].tolist() == ["e1", "e2"]
    assert frame[SENDER_KEY].tolist() == ["a@x.org", ""]
    assert frame["event_timestamp"].tolist() == [pd.Timestamp(T0)] * 2


# --------------------------------------------------------------------------- the real corpus
def _expected_stats(labeled) -> dict[str, tuple[int, int, int, int]]:
    """Plain Python: per e-mail, train e-mails of the same non-empty sender / domain sent
    strictly before it (a missing date counts as the latest date known in the dataset), and
    how many of those were spam."""
    latest = max(e.date for e in labeled if e.date is not None)
    when = {e.email_id: e.date if e.date is not None else latest for e in labeled}
    by_key: dict[tuple[str, str], list[tuple[datetime, bool]]] = defaultdict(list)
    for e in labeled:
        if e.split == "train":
            for kind, key in (("sender", e.sender), ("domain", e.domain)):
                if key:
                    by_key[kind, key].append((when[e.email_id], e.spam))
    index = {}
    for entity, items in by_key.items():
        items.sort(key=lambda item: item[0])
        times = [t for t, _ in items]
        spam_before = [0, *accumulate(int(s) for _, s in items)]
        index[entity] = (times, spam_before)

    def before(kind: str, key: str, t: datetime) -> tuple[int, int]:
        if not key or (kind, key) not in index:
            return 0, 0
        times, spam_before = index[kind, key]
        n = bisect_left(times, t)  # strictly earlier: same-second e-mails do not count
        return n, spam_before[n]

    return {
        e.email_id: before("sender", e.sender, when[e.email_id])
        + before("domain", e.domain, when[e.email_id])
        for e in labeled
    }


@pytest.fixture(scope="module")
def retrieved(reputation_work) -> pd.DataFrame:
    """What the training stage's point-in-time retrieval produced (stats.parquet)."""
    return pd.read_parquet(reputation_work / "work" / STATS_FILE).set_index("email_id")


def test_point_in_time_stats_equal_an_independent_count_for_every_email(labeled_emails, retrieved):
    # the "same second" rule is "strictly earlier" only for whole-second dates
    assert all(e.date.microsecond == 0 for e in labeled_emails if e.date is not None)
    expected = _expected_stats(labeled_emails)
    assert set(retrieved.index) == set(expected)
    serving = [f"serving_{c}" for c in STAT_COLUMNS]
    assert list(retrieved.columns) == ["split", *STAT_COLUMNS, *serving]
    splits = {e.email_id: e.split for e in labeled_emails}
    assert (retrieved["split"] == pd.Series(splits)[retrieved.index]).all()
    got = {
        email_id: tuple(int(v) for v in row)
        for email_id, row in zip(
            retrieved.index, retrieved[list(STAT_COLUMNS)].to_numpy(), strict=True
        )
    }
    assert retrieved[list(STAT_COLUMNS)].to_numpy().dtype == np.float64
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert not wrong, f"{len(wrong)} e-mails differ (got, expected), e.g. {list(wrong.items())[:5]}"
    # the serving_* columns: the whole train history of the sender / domain (what the online
    # store serves), counted independently
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in labeled_emails:
        if e.split == "train":
            for kind, key in (("sender", e.sender), ("domain", e.domain)):
                if key:
                    totals[kind, key][0] += 1
                    totals[kind, key][1] += int(e.spam)
    end = {
        e.email_id: (
            *(totals[("sender", e.sender)] if e.sender else (0, 0)),
            *(totals[("domain", e.domain)] if e.domain else (0, 0)),
        )
        for e in labeled_emails
    }
    got_end = {
        email_id: tuple(int(v) for v in row)
        for email_id, row in zip(retrieved.index, retrieved[serving].to_numpy(), strict=True)
    }
    wrong = {k: (got_end[k], end[k]) for k in end if got_end[k] != tuple(end[k])}
    assert not wrong, f"{len(wrong)} end-of-history counts differ, e.g. {list(wrong.items())[:5]}"
    # the comparison is not vacuous: every split has e-mails with an earlier history
    for split in ("train", "validation", "test"):
        known = [got[e.email_id][0] > 0 for e in labeled_emails if e.split == split]
        assert sum(known) > 0.1 * len(known), split
    assert any(got[e.email_id][1] > 0 for e in labeled_emails)  # some spam history, too


def test_the_corpus_exercises_the_edge_cases(labeled_emails):
    """Same-second e-mails of one sender and undated train e-mails with a sender exist, so the
    comparison above checks those rules on real data."""
    train = [e for e in labeled_emails if e.split == "train"]
    same_second = Counter((e.sender, e.date) for e in train if e.sender and e.date is not None)
    assert sum(n > 1 for n in same_second.values()) >= 10
    assert sum(1 for e in train if e.date is None and e.sender) >= 10
    assert any(not e.sender for e in labeled_emails)


def test_an_email_never_sees_its_own_label(labeled_emails, retrieved):
    train = [e for e in labeled_emails if e.split == "train"]
    per_sender = Counter(e.sender for e in train if e.sender)
    once = [e.email_id for e in train if e.sender and per_sender[e.sender] == 1]
    assert len(once) > 100
    assert (retrieved.loc[once, ["sender_messages", "sender_spam"]] == 0).all().all()
    # and in general: a train e-mail sees at most the *other* train e-mails of its sender
    for e in train:
        if e.sender:
            assert retrieved.at[e.email_id, "sender_messages"] <= per_sender[e.sender] - 1
    # the undated e-mails (placed at the latest date) see the earlier history of their
    # domain, yet not each other: same domain, same (latest) time
    undated = [e for e in train if e.date is None and e.domain]
    assert any(retrieved.at[e.email_id, "domain_messages"] > 0 for e in undated)
    domain, n = Counter(e.domain for e in undated).most_common(1)[0]
    assert n >= 3
    seen = {retrieved.at[e.email_id, "domain_messages"] for e in undated if e.domain == domain}
    assert len(seen) == 1, f"undated e-mails of {domain} saw each other: {seen}"


def test_stats_by_email_id_serves_the_retrieved_rows(train_reputation, retrieved, corpus_records):
    records, _ = corpus_records
    got = train_reputation.stats(records)
    want = retrieved.loc[[r.email_id for r in records], list(STAT_COLUMNS)].to_numpy()
    assert np.array_equal(got, want)


def test_retrieval_keeps_new_senders_and_same_second_emails(tmp_path):
    """Regression: one joint Feast retrieval dropped every e-mail whose sender had history only
    after it (losing its domain's counts too) and merged same-second e-mails of one sender."""
    from spam_core.reputation.offline import apply_history, historical_stats
    from spam_core.reputation.repo import open_store, write_local_repo

    t = [T0 + timedelta(minutes=i) for i in range(4)]
    history = build_history(
        ["old@d.org", "old@d.org", "late@d.org", "x@e.org"],
        ["d.org", "d.org", "d.org", "e.org"],
        pd.Series(pd.to_datetime(t, utc=True)),
        [True, False, True, True],
    )
    write_local_repo(tmp_path / "feast")
    store = open_store(tmp_path / "feast")
    apply_history(store, history, tmp_path / "history")
    at = pd.Series(pd.to_datetime([t[2], t[2], t[2], t[3] + EVENT_SHIFT, t[0], T0], utc=True))
    entities = entity_frame(
        ["new", "twin-1", "twin-2", "after-all", "first", "nobody"],
        ["late@d.org", "old@d.org", "old@d.org", "late@d.org", "old@d.org", ""],
        ["d.org", "d.org", "d.org", "d.org", "d.org", ""],
        at,
    )
    got = historical_stats(store, entities).tolist()
    assert got == [
        [0, 0, 2, 1],  # its sender's only history is its own (later stamp): domain kept
        [2, 1, 2, 1],
        [2, 1, 2, 1],  # the same-second twin gets the same, not zeros
        [1, 1, 3, 2],
        [0, 0, 0, 0],  # the very first e-mail sees nothing, not even itself
        [0, 0, 0, 0],  # no sender
    ]
