"""The fitted linear text model and the cross-fitted margins the trees train on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from spam_core.features import LINEAR_COLUMN, FeatureExtractor, NoHistory
from spam_core.ingest import read_records
from spam_trainer.features import cross_fitted_margins, linear_design, training_matrices


@pytest.fixture(scope="module")
def train_split(dataset_dir):
    records, labels = read_records(dataset_dir, split="train")
    return records, np.array([lab == "spam" for lab in labels], dtype=np.float32)


def test_cross_fitted_margins_are_out_of_fold(fitted, train_split):
    """In-sample margins of the training e-mails are near-perfect (the model saw their
    labels); the cross-fitted ones are each from a model that did not see the e-mail: less
    extreme, still informative, and deterministic."""
    records, y = train_split
    extractor = FeatureExtractor(fitted)
    in_sample = extractor.transform_records(records, NoHistory())[:, LINEAR_COLUMN]
    raw, fields = training_matrices(extractor, records, y, NoHistory())
    crossed = raw[:, LINEAR_COLUMN]
    assert not np.allclose(crossed, in_sample)
    assert np.mean(np.abs(crossed)) < np.mean(np.abs(in_sample))
    assert 0.98 < roc_auc_score(y, crossed) < roc_auc_score(y, in_sample)
    # every other column is the extractor's
    plain = extractor.transform_records(records, NoHistory())
    others = np.arange(plain.shape[1]) != LINEAR_COLUMN
    assert np.array_equal(raw[:, others], plain[:, others])
    assert fields.shape == raw.shape
    again = cross_fitted_margins(fitted.linear, records, y)
    assert np.array_equal(again[:, 0].astype(np.float32), crossed)


def test_cross_fitted_margin_is_the_held_out_fold_model(fitted, train_split):
    """Margin of an e-mail = the margin of the linear model fitted without its fold."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from spam_trainer.slices import field_form

    records, y = train_split
    p = fitted.linear
    margins = cross_fitted_margins(p, records, y)
    fit_idx, held_idx = next(
        StratifiedKFold(p.cross_fit_folds, shuffle=True, random_state=p.cross_fit_seed).split(
            np.zeros(len(y)), y
        )
    )
    raw = linear_design(p, records)
    fields = linear_design(p, [field_form(r) for r in records])
    model = LogisticRegression(
        C=p.regularization_c, solver="liblinear", max_iter=1000, random_state=p.cross_fit_seed
    ).fit(sparse.vstack([raw[fit_idx], fields[fit_idx]]), np.concatenate([y[fit_idx]] * 2))
    np.testing.assert_allclose(margins[held_idx, 0], model.decision_function(raw[held_idx]))


def test_linear_model_needs_both_classes(train_split):
    records, _ = train_split
    from spam_core.artifacts import FitInfo
    from spam_trainer.features import fit_on_records

    with pytest.raises(ValueError, match="spam and ham"):
        fit_on_records(
            records,
            np.zeros(len(records)),
            NoHistory(),
            FitInfo(dataset="x", dataset_fingerprint="x", n_documents=len(records)),
        )
