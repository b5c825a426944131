"""The Evidently HTML report of one model version (Evidently 0.7, the new API).

Evidently compares two row sets, but a baseline keeps summaries, not training rows. The
reference rows are therefore drawn from the baseline's quantile function (inverse-CDF sampling
of the same piecewise-linear distribution the KS test uses), and at most ``sample_rows`` rows
of the window are shown (sampled uniformly, seeded). The verdict is the JSON report's,
computed on every row; the HTML is for looking at the distributions.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from spam_core.drift import DriftBaseline

SCORE = "spam_probability"


def reference_sample(
    baseline: DriftBaseline, columns: list[str], n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    out = {}
    for name in columns:
        quantiles = baseline.score.quantiles if name == SCORE else baseline.features[name].quantiles
        probs = np.linspace(0.0, 1.0, len(quantiles))
        out[name] = np.interp(rng.random(n), probs, quantiles)
    return out


def render_html(
    table: pa.Table,
    baseline: DriftBaseline,
    features: list[str],
    *,
    title: str,
    sample_rows: int = 5000,
    seed: int = 0,
) -> str:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [f for f in features if f in baseline.features and f in table.column_names]
    columns.append(SCORE)
    rng = np.random.default_rng(seed)
    if table.num_rows > sample_rows:
        table = table.take(np.sort(rng.choice(table.num_rows, sample_rows, replace=False)))
    current = pd.DataFrame(
        {c: table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in columns}
    )
    reference = pd.DataFrame(reference_sample(baseline, columns, sample_rows, rng))
    definition = DataDefinition(numerical_columns=columns)
    snapshot = Report([DataDriftPreset()], metadata={"title": title}).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    return snapshot.get_html_str(as_iframe=False)
