"""Per-prediction explanations (TreeSHAP): they add up to the model's margin, name features
readably, and refuse a model of another width."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from spam_core.errors import ArtifactError
from spam_core.explain import Explainer, describe_feature
from spam_core.features import N_FEATURES, N_TFIDF, NAMED_FEATURES


@pytest.fixture(scope="module")
def model_and_data(fitted, extractor, corpus_records):
    records, labels = corpus_records
    records, labels = records[:600], labels[:600]
    from spam_core.features import NoHistory

    x = extractor.transform_records(records, NoHistory())
    y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
    model = xgb.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1, missing=np.nan)
    model.fit(x, y)
    raw = model.get_booster().save_raw("json")
    return Explainer(bytes(raw), fitted.feature_names), model, x


def test_contributions_add_up_to_the_models_margin(model_and_data):
    explainer, model, x = model_and_data
    contribs = explainer.contributions(x)
    margin = model.predict(x, output_margin=True)
    assert contribs.shape == (len(x), N_FEATURES + 1)
    np.testing.assert_allclose(contribs.sum(axis=1), margin, atol=1e-4)
    for e, m in zip(explainer.explain(x[:20]), margin[:20], strict=True):
        assert e.margin == pytest.approx(float(m), abs=1e-4)
        sizes = [abs(t["contribution"]) for t in e.top]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) <= 10
    # the probability the model gives is the logistic of the explained margin
    p = model.predict_proba(x[[0]])[0, 1]
    assert 1 / (1 + np.exp(-explainer.explain(x[[0]])[0].margin)) == pytest.approx(p, 1e-5)


def test_top_contributions_name_terms_engineered_and_reputation_features(model_and_data):
    explainer, _, x = model_and_data
    (e,) = explainer.explain(x[:1], top=50)
    for t in e.top:
        assert set(t) == {"feature", "kind", "label", "value", "contribution"}
        assert t["kind"] in {"term", "content", "reputation"}
        assert t["contribution"] != 0.0
    assert describe_feature("tfidf:money") == {
        "feature": "tfidf:money",
        "kind": "term",
        "label": 'the word "money"',
    }
    assert describe_feature("sender_spam_rate")["kind"] == "reputation"
    assert describe_feature(NAMED_FEATURES[0])["kind"] == "content"
    assert describe_feature(NAMED_FEATURES[0])["label"].startswith("log(1 + characters")
    assert explainer.feature_names[N_TFIDF] == NAMED_FEATURES[0]


def test_bad_inputs_are_refused(model_and_data):
    explainer, _, x = model_and_data
    with pytest.raises(ValueError, match="top must be"):
        explainer.explain(x[:1], top=0)
    with pytest.raises(ValueError, match="expected"):
        explainer.contributions(x[:, :10])
    small = xgb.XGBClassifier(n_estimators=2).fit(np.random.rand(20, 5), np.arange(20) % 2)
    with pytest.raises(ArtifactError, match="takes 5 features"):
        Explainer(bytes(small.get_booster().save_raw("json")), explainer.feature_names)
    with pytest.raises(ArtifactError, match="cannot load"):
        Explainer(b"{not json", explainer.feature_names)


def test_reputation_is_explained_relative_to_an_unknown_sender(fitted):
    """An unknown sender's default rates contribute exactly 0 (the model gives them 0 too);
    a known sender's reputation contributions add up to what its history changes."""
    from spam_core.explain import UNKNOWN_SENDER
    from spam_core.features import N_CONTENT

    rng = np.random.default_rng(7)
    n = 400
    x = np.zeros((n, N_FEATURES), dtype=np.float32)
    x[:, :N_CONTENT] = rng.random((n, N_CONTENT), dtype=np.float32) * 0.01
    x[:, N_CONTENT:] = UNKNOWN_SENDER
    known = rng.random(n) < 0.6  # like the corpus: the history is mostly of known senders
    x[known, N_CONTENT + 1] = rng.random(known.sum())  # sender spam rate
    x[known, N_CONTENT:] += rng.random((known.sum(), N_FEATURES - N_CONTENT)) * 0.2
    y = (x[:, N_CONTENT + 1] > 0.55).astype(np.float32)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(x, y)
    explainer = Explainer(bytes(model.get_booster().save_raw("json")), fitted.feature_names)

    contribs = explainer.contributions(x)
    margin = model.predict(x, output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1), margin, atol=1e-4)
    # unknown senders: no reputation evidence either way (plain TreeSHAP gave them a sizeable one)
    assert np.all(contribs[~known, N_CONTENT:N_FEATURES] == 0.0)
    plain = model.get_booster().predict(xgb.DMatrix(x[~known]), pred_contribs=True)
    assert np.abs(plain[:, N_CONTENT:N_FEATURES]).sum(axis=1).max() > 0.1
    (e,) = explainer.explain(x[~known][:1], top=50)
    assert all(t["kind"] != "reputation" for t in e.top)
    # a known sender's reputation contributions = its margin minus the unknown sender's
    x0 = x[known].copy()
    x0[:, N_CONTENT:] = UNKNOWN_SENDER
    history_effect = margin[known] - model.predict(x0, output_margin=True)
    np.testing.assert_allclose(
        contribs[known, N_CONTENT:N_FEATURES].sum(axis=1), history_effect, atol=1e-3
    )
