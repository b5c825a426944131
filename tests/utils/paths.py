"""Where things are: the repository and the workspace corpus the tests and benchmarks read."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_CORPUS = Path(
    os.environ.get("SPAM_TEST_CORPUS", REPO.parent / "shared" / "data" / "spamassassin")
)
"""The workspace copy of the SpamAssassin corpus (read-only); ``SPAM_TEST_CORPUS`` overrides."""
