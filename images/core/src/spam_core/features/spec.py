"""The feature vector's definition: its length, order, names and documentation.

Defined once here. The trainer, the ONNX/Triton export (input dimension), the transformer
and batch scoring all derive the vector layout from this module, so a length or order
mismatch between training and serving cannot be written by hand.

Layout: ``N_TFIDF`` TF-IDF term weights (``tfidf:<term>``, vocabulary order of the fitted
artifact), then the ``ENGINEERED`` content features, then the ``LINEAR`` text margin (a
fitted linear model over hashed character n-grams, :mod:`spam_core.features.linear`), then the
``REPUTATION`` features (sender and sender-domain history from the Feast feature store), each
block in the order of its table. The content blocks are computed from the e-mail alone (and
the fitted artifact); the reputation block from the history statistics defined in
:mod:`spam_core.features.reputation` (point-in-time in training, the online store when
serving).
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURE_SET_VERSION = "email-529-v4"
"""Bump whenever a definition below changes meaning; artifacts record it and are refused
by code of another version."""

N_TFIDF = 500


@dataclass(frozen=True, slots=True)
class FeatureDef:
    name: str
    group: str
    description: str
    value_range: str


# The order of this tuple is the order in the vector (after the TF-IDF block).
ENGINEERED: tuple[FeatureDef, ...] = (
    # --- text statistics (over the body: plain text + HTML-derived text)
    FeatureDef("body_length_log", "text", "log(1 + characters in the body)", "[0, 10.6]"),
    FeatureDef(
        "uppercase_ratio",
        "text",
        "upper-case ASCII letters / ASCII letters in the body (0 without letters)",
        "[0, 1]",
    ),
    FeatureDef("digit_ratio", "text", "digits / non-whitespace characters in the body", "[0, 1]"),
    FeatureDef(
        "non_ascii_ratio", "text", "non-ASCII characters / characters in subject + body", "[0, 1]"
    ),
    FeatureDef("exclamation_count_log", "punctuation", "log(1 + '!' in subject + body)", "[0, 10)"),
    FeatureDef(
        "money_symbol_count_log",
        "punctuation",
        "log(1 + currency symbols $ £ € ¥ in subject + body)",
        "[0, 10)",
    ),
    # --- structure
    FeatureDef(
        "url_count_log",
        "links",
        "log(1 + URLs in text and in HTML href/src/action attributes)",
        "[0, 6.2]",
    ),
    FeatureDef("url_domain_count_log", "links", "log(1 + distinct URL host names)", "[0, 6.2]"),
    FeatureDef("url_ip_host", "links", "1 if any URL host is a literal IPv4 address", "{0, 1}"),
    FeatureDef(
        "has_html", "html", "1 if the message has an HTML part (declared or sniffed)", "{0, 1}"
    ),
    FeatureDef("html_only", "html", "1 if it has HTML and no non-empty plain-text part", "{0, 1}"),
    FeatureDef("html_tag_count_log", "html", "log(1 + opening HTML tags)", "[0, 12)"),
    FeatureDef(
        "attachment_count_log",
        "structure",
        "log(1 + leaf parts that are attachments or non-text)",
        "[0, 5)",
    ),
    FeatureDef("mime_part_count_log", "structure", "log(1 + leaf MIME parts)", "[0, 5)"),
    # --- subject
    FeatureDef("subject_length_log", "subject", "log(1 + characters in the subject)", "[0, 6.9]"),
    FeatureDef(
        "subject_uppercase_ratio",
        "subject",
        "upper-case ASCII letters / ASCII letters in the subject",
        "[0, 1]",
    ),
    FeatureDef(
        "subject_is_reply",
        "subject",
        "1 if the subject starts with Re:/Fw:/Fwd:/Aw: (after an optional [list] tag)",
        "{0, 1}",
    ),
    # --- sender
    FeatureDef("sender_missing", "sender", "1 if no sender address can be parsed", "{0, 1}"),
    FeatureDef("sender_has_display_name", "sender", "1 if the sender has a display name", "{0, 1}"),
    FeatureDef(
        "sender_local_digit_ratio",
        "sender",
        "digits / characters in the address's local part",
        "[0, 1]",
    ),
    FeatureDef(
        "sender_freemail",
        "sender",
        "1 if the sender's domain is a free-mail provider (list in engineered.py)",
        "{0, 1}",
    ),
    # --- time
    FeatureDef("date_missing", "time", "1 if the Date is missing, unparseable or absurd", "{0, 1}"),
    FeatureDef(
        "send_hour",
        "time",
        "hour of day in the sender's own time zone; -1 when the date is missing",
        "[-1, 23]",
    ),
    # --- spam indicators
    FeatureDef(
        "spam_phrase_count_log",
        "indicators",
        "log(1 + occurrences of known spam phrases in subject + body)",
        "[0, 10)",
    ),
)

# The linear text margin: one logistic regression over the sublinear, L2-normalized TF-IDF of
# the character 3-5-grams of the document (within words, hashed into 2^20 buckets), fitted on
# the training split; the trees read its margin as one column (stacking). Training rows get
# cross-fitted margins (spam_trainer.features), so the trees learn how far to trust it on mail
# it has not seen.
LINEAR: tuple[FeatureDef, ...] = (
    FeatureDef(
        "text_linear_margin",
        "linear",
        "log-odds of spam of a logistic regression over the TF-IDF of the document's "
        "character 3-5-grams (hashed, fitted on the training split)",
        "real; about [-10, 10] on the corpus",
    ),
)

# Sender / sender-domain reputation: what the history says about who sent the e-mail. Values
# come from counts in the Feast feature store (see spam_core.features.reputation); an entity
# the store does not know (a new sender, no sender, or an unreachable store) gets the default.
REPUTATION: tuple[FeatureDef, ...] = (
    FeatureDef(
        "sender_message_count_log",
        "reputation",
        "log(1 + earlier labeled e-mails from this sender address); default 0 (unknown sender)",
        "[0, 12)",
    ),
    FeatureDef(
        "sender_spam_rate",
        "reputation",
        "(spam + 1) / (e-mails + 2) over the sender's earlier labeled e-mails; default 0.5",
        "(0, 1)",
    ),
    FeatureDef(
        "domain_message_count_log",
        "reputation",
        "log(1 + earlier labeled e-mails from the sender's domain); default 0 (unknown domain)",
        "[0, 12)",
    ),
    FeatureDef(
        "domain_spam_rate",
        "reputation",
        "(spam + 1) / (e-mails + 2) over the domain's earlier labeled e-mails; default 0.5",
        "(0, 1)",
    ),
)

N_ENGINEERED = len(ENGINEERED)
N_LINEAR = len(LINEAR)
N_REPUTATION = len(REPUTATION)
LINEAR_COLUMN = N_TFIDF + N_ENGINEERED
"""The column of ``text_linear_margin``."""
N_CONTENT = N_TFIDF + N_ENGINEERED + N_LINEAR
"""Width of the part computed from the e-mail alone."""
N_FEATURES = N_CONTENT + N_REPUTATION
ENGINEERED_NAMES: tuple[str, ...] = tuple(f.name for f in ENGINEERED)
LINEAR_NAMES: tuple[str, ...] = tuple(f.name for f in LINEAR)
REPUTATION_NAMES: tuple[str, ...] = tuple(f.name for f in REPUTATION)
NAMED_FEATURES: tuple[str, ...] = ENGINEERED_NAMES + LINEAR_NAMES + REPUTATION_NAMES
"""The non-TF-IDF features, in vector order (columns N_TFIDF..N_FEATURES): what inference logs,
drift reports and APIs show by name."""

assert N_ENGINEERED == 24, N_ENGINEERED
assert N_FEATURES == 529, N_FEATURES


def feature_names(vocabulary: list[str] | tuple[str, ...]) -> list[str]:
    """Full ordered name list for a fitted vocabulary."""
    if len(vocabulary) != N_TFIDF:
        raise ValueError(f"vocabulary has {len(vocabulary)} terms, the feature set needs {N_TFIDF}")
    return [f"tfidf:{t}" for t in vocabulary] + list(NAMED_FEATURES)


def markdown_table() -> str:
    """The feature documentation table (kept in images/core/FEATURES.md, checked by a test)."""
    rows = [
        "| # | name | group | meaning | range |",
        "| ---: | --- | --- | --- | --- |",
        f"| 0–{N_TFIDF - 1} | `tfidf:<term>` | tfidf | sublinear TF × IDF of one of the {N_TFIDF} "
        "vocabulary terms (fitted on the training split), L2-normalized over the block | [0, 1] |",
    ]
    for i, f in enumerate(ENGINEERED + LINEAR + REPUTATION, start=N_TFIDF):
        rows.append(f"| {i} | `{f.name}` | {f.group} | {f.description} | {f.value_range} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # regenerate the table in images/core/FEATURES.md
    print(markdown_table(), end="")
