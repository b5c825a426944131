"""The dataset's e-mails as the reputation stage sees them: id, split, keys, date, label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, slots=True)
class Labeled:
    email_id: str
    split: str
    sender: str
    domain: str
    date: datetime | None
    spam: bool


@pytest.fixture(scope="session")
def labeled_emails(dataset_dir: Path) -> list[Labeled]:
    """Every e-mail of every split (read straight from the dataset, not from the stage)."""
    from spam_core.ingest import read_records

    out = []
    for split in SPLITS:
        records, labels = read_records(dataset_dir, split=split)
        for record, label in zip(records, labels, strict=True):
            out.append(
                Labeled(
                    record.email_id,
                    split,
                    record.sender_address,
                    record.sender_domain,
                    record.date,
                    label == "spam",
                )
            )
    return out


@pytest.fixture(scope="session")
def train_history(labeled_emails: list[Labeled]) -> dict:
    """``build_history`` of the train split, event times as the stage assigns them (a missing
    date -> the latest date known in the whole dataset)."""
    from spam_core.reputation.history import build_history, event_times

    times = event_times([e.date for e in labeled_emails])
    train = [i for i, e in enumerate(labeled_emails) if e.split == "train"]
    return build_history(
        [labeled_emails[i].sender for i in train],
        [labeled_emails[i].domain for i in train],
        times.iloc[train].reset_index(drop=True),
        [labeled_emails[i].spam for i in train],
    )
