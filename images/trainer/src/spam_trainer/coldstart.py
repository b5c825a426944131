"""A neutral cold start: no history is no evidence; history moves the score both ways.

In the corpus almost every spam sender is a first-time sender and most ham senders are
repeat list posters, so a model that sees the reputation columns next to the content learns
"no history" as strong spam evidence (a quarter of unknown senders' ham was flagged). The
model is therefore built in two additive parts, shipped as ONE XGBoost model (one ONNX graph,
the same 529-feature vector):

1. **content trees**, trained with the reputation columns held at their unknown defaults
   (constant, so no tree can split on them): the spam log-odds the e-mail itself gives;
2. **reputation trees**, trained on top of the content margin (``base_margin`` = out-of-fold
   content margins, so they learn what history adds to content they have not seen) on the
   e-mails that *have* history, seeing only the sender and domain spam rates (every other
   column is missing for them), monotone non-decreasing in both; then each reputation tree's
   leaves are shifted by the value of the leaf the unknown defaults reach
   (:func:`centre_at_defaults`), which keeps the trees monotone and makes their sum exactly 0
   at the defaults.

The rate ``(spam + 1) / (messages + 2)`` is 0.5 for an unknown sender and the logistic of
``log((spam + 1) / (ham + 1))``, so with the term monotone and 0 at (0.5, 0.5): a history of
ham (both rates <= 0.5) never raises the score, a history of spam never lowers it, and a
balanced or absent history leaves it alone. The counts are not used by the term: they would
let "has history" itself become evidence again (the mirror image of the problem).

The trees are concatenated into one booster (:func:`merge`): ``margin = content(x) +
reputation(x)``, so an e-mail from an unknown sender (or with the store down) is judged on its
content alone, bit for bit. Tests hold the model to all of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from spam_core.features.reputation import no_history, reputation_features
from spam_core.features.spec import N_CONTENT, N_FEATURES, REPUTATION_NAMES

REPUTATION_COLUMNS = slice(N_CONTENT, N_FEATURES)
DEFAULTS = reputation_features(no_history(1))[0].astype(np.float32)
"""The reputation block of an e-mail whose sender and domain the history does not know."""

TERM_FEATURES = ("sender_spam_rate", "domain_spam_rate")
"""What the reputation trees see, each with a non-decreasing (monotone) effect."""
_TERM_COLUMNS = [N_CONTENT + REPUTATION_NAMES.index(n) for n in TERM_FEATURES]


@dataclass(frozen=True)
class ReputationTermSettings:
    """The reputation trees: few, shallow, strongly regularized (4 inputs)."""

    rounds: int = 60
    max_depth: int = 2
    eta: float = 0.1
    min_child_weight: float = 5.0
    reg_lambda: float = 5.0


def without_history(x: np.ndarray) -> np.ndarray:
    """``x`` with the reputation columns at the unknown defaults (a copy)."""
    out = np.array(x, dtype=np.float32, copy=True)
    out[:, REPUTATION_COLUMNS] = DEFAULTS
    return out


def has_history(x: np.ndarray) -> np.ndarray:
    """Rows whose reputation block is not the unknown default."""
    return ~np.all(x[:, REPUTATION_COLUMNS] == DEFAULTS, axis=1)


def reputation_only(x: np.ndarray) -> np.ndarray:
    """``x`` with every column but the spam rates missing (NaN): what the reputation trees
    train on (so they can split on nothing else)."""
    out = np.full(x.shape, np.nan, dtype=np.float32)
    out[:, _TERM_COLUMNS] = x[:, _TERM_COLUMNS]
    return out


def _monotone() -> str:
    signs = [1 if j in _TERM_COLUMNS else 0 for j in range(N_FEATURES)]
    return "(" + ",".join(map(str, signs)) + ")"


def fit_reputation_term(
    x: np.ndarray,
    y: np.ndarray,
    content_margin: np.ndarray,
    *,
    settings: ReputationTermSettings | None = None,
    seed: int = 42,
    nthread: int = 1,
) -> xgb.Booster | None:
    """Reputation trees on the rows with history, on top of ``content_margin`` (out-of-fold
    margins of the content trees), centred at the defaults. None without any history row."""
    s = settings or ReputationTermSettings()
    rows = has_history(x)
    if not rows.any() or len(set(np.asarray(y)[rows].tolist())) < 2:
        return None
    dtrain = xgb.DMatrix(
        reputation_only(x[rows]),
        label=np.asarray(y)[rows],
        base_margin=np.asarray(content_margin, dtype=np.float64)[rows],
        missing=np.nan,
    )
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": s.max_depth,
        "eta": s.eta,
        "min_child_weight": s.min_child_weight,
        "lambda": s.reg_lambda,
        "monotone_constraints": _monotone(),
        "seed": seed,
        "nthread": nthread,
    }
    return centre_at_defaults(xgb.train(params, dtrain, num_boost_round=s.rounds))


def reputation_margin(term: xgb.Booster | None, x: np.ndarray) -> np.ndarray:
    """The reputation trees' contribution to the margin of each row of ``x`` (0 without)."""
    if term is None:
        return np.zeros(len(x), dtype=np.float64)
    dm = xgb.DMatrix(reputation_only(x), base_margin=np.zeros(len(x)), missing=np.nan)
    return np.asarray(term.predict(dm, output_margin=True), dtype=np.float64)


def _trees(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["learner"]["gradient_booster"]["model"]["trees"]


def _leaf_of(tree: dict[str, Any], row: np.ndarray) -> int:
    """The leaf XGBoost routes ``row`` to (``x < split`` goes left; NaN the default way)."""
    node = 0
    left, right = tree["left_children"], tree["right_children"]
    while left[node] != -1:
        value = row[tree["split_indices"][node]]
        if np.isnan(value):
            node = left[node] if tree["default_left"][node] else right[node]
        else:
            cond = np.float32(tree["split_conditions"][node])
            node = left[node] if np.float32(value) < cond else right[node]
    return node


def centre_at_defaults(booster: xgb.Booster) -> xgb.Booster:
    """Shift each tree's leaves by the value of its leaf for the unknown defaults: every
    tree (and so the sum) is exactly 0 there, and each keeps its shape (monotonicity)."""
    doc = json.loads(booster.save_raw("json"))
    row = np.full(N_FEATURES, np.nan, dtype=np.float32)
    row[REPUTATION_COLUMNS] = DEFAULTS
    for tree in _trees(doc):
        shift = float(np.float32(tree["split_conditions"][_leaf_of(tree, row)]))
        leaves = [i for i, child in enumerate(tree["left_children"]) if child == -1]
        for i in leaves:
            tree["split_conditions"][i] = float(np.float32(tree["split_conditions"][i]) - shift)
        tree["base_weights"] = [float(np.float32(w) - shift) for w in tree["base_weights"]]
    out = xgb.Booster()
    out.load_model(bytearray(json.dumps(doc).encode()))
    return out


def merge(content: xgb.XGBClassifier, reputation: xgb.Booster | None) -> xgb.XGBClassifier:
    """One classifier whose margin is content's margin + the reputation trees' sum (the
    reputation booster's own base score is dropped: it was trained on a base margin)."""
    if reputation is None:
        return content
    doc = json.loads(content.get_booster().save_raw("json"))
    extra = _trees(json.loads(reputation.save_raw("json")))
    model = doc["learner"]["gradient_booster"]["model"]
    trees = model["trees"]
    n = len(trees)
    for i, tree in enumerate(extra):
        tree["id"] = n + i
        trees.append(tree)
    model["tree_info"] = list(model["tree_info"]) + [0] * len(extra)
    model["gbtree_model_param"]["num_trees"] = str(len(trees))
    if "iteration_indptr" in model:  # one tree per boosting round (binary objective)
        model["iteration_indptr"] = list(range(len(trees) + 1))
    merged = xgb.XGBClassifier()
    merged.load_model(bytearray(json.dumps(doc).encode()))
    merged.set_params(**{k: v for k, v in content.get_params().items() if k != "n_estimators"})
    merged.set_params(n_estimators=len(trees))
    return merged
