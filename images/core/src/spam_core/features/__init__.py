"""The 524-feature vector: spec (layout and docs), engineered features, TF-IDF, extractor."""

from spam_core.features.extractor import FeatureExtractor
from spam_core.features.spec import (
    ENGINEERED,
    ENGINEERED_NAMES,
    FEATURE_SET_VERSION,
    N_ENGINEERED,
    N_FEATURES,
    N_TFIDF,
)

__all__ = [
    "ENGINEERED",
    "ENGINEERED_NAMES",
    "FEATURE_SET_VERSION",
    "N_ENGINEERED",
    "N_FEATURES",
    "N_TFIDF",
    "FeatureExtractor",
]
