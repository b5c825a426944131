"""The 529-feature vector: spec (layout and docs), TF-IDF, engineered, linear-margin and
reputation features, the extractor."""

from spam_core.features.extractor import FeatureExtractor
from spam_core.features.reputation import (
    STAT_COLUMNS,
    NoHistory,
    ReputationSource,
    StatsByEmailId,
    reputation_features,
)
from spam_core.features.spec import (
    ENGINEERED,
    ENGINEERED_NAMES,
    FEATURE_SET_VERSION,
    LINEAR,
    LINEAR_COLUMN,
    LINEAR_NAMES,
    N_CONTENT,
    N_ENGINEERED,
    N_FEATURES,
    N_LINEAR,
    N_REPUTATION,
    N_TFIDF,
    NAMED_FEATURES,
    REPUTATION,
    REPUTATION_NAMES,
)

__all__ = [
    "ENGINEERED",
    "ENGINEERED_NAMES",
    "FEATURE_SET_VERSION",
    "LINEAR",
    "LINEAR_COLUMN",
    "LINEAR_NAMES",
    "NAMED_FEATURES",
    "N_CONTENT",
    "N_ENGINEERED",
    "N_FEATURES",
    "N_LINEAR",
    "N_REPUTATION",
    "N_TFIDF",
    "REPUTATION",
    "REPUTATION_NAMES",
    "STAT_COLUMNS",
    "FeatureExtractor",
    "NoHistory",
    "ReputationSource",
    "StatsByEmailId",
    "reputation_features",
]
