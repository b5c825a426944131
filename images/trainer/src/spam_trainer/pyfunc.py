"""The registered MLflow model: a pyfunc "model from code" over the exported bundle.

MLflow stores this file (not a pickle) with the bundle as an artifact, so
``mlflow.pyfunc.load_model("models:/spam-detector@production")`` gives a model that takes a
DataFrame of e-mails (a ``raw`` column with RFC 822 text, or ``subject``/``body``/``sender``/
``date`` columns) and returns ``spam_probability`` and ``prediction``. It runs the same
feature code and ONNX model as every other path. The sender reputation comes from the Feast
repository named by ``SPAM_FEAST_REPO`` (the online store); without one the reputation
features take their documented defaults and a warning says so at load time.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from spam_core.bundle import ModelBundle
from spam_core.scoring import label, record_from_input


class SpamDetector(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        import os
        import warnings

        from spam_core.features import NoHistory

        self.bundle = ModelBundle.load(context.artifacts["bundle"])
        repo = os.environ.get("SPAM_FEAST_REPO")
        if repo:
            from spam_core.reputation.online import OnlineReputation

            self.reputation = OnlineReputation.from_repo(repo)
        else:
            warnings.warn(
                "SPAM_FEAST_REPO is not set: the sender reputation features take their "
                "defaults (every sender unknown)",
                stacklevel=2,
            )
            self.reputation = NoHistory()

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        records = []
        for i, row in enumerate(model_input.to_dict("records")):
            email_id = str(row.get("email_id") or i)
            raw = row.get("raw")
            records.append(
                record_from_input(
                    email_id,
                    raw=raw if isinstance(raw, str | bytes) else None,  # NaN: a missing cell
                    subject=row.get("subject") or "",
                    body=row.get("body") or "",
                    sender=row.get("sender") or "",
                    date=row.get("date") or None,
                )
            )
        probs = self.bundle.predict_records(records, self.reputation)
        return pd.DataFrame(
            {
                "email_id": [r.email_id for r in records],
                "spam_probability": probs.astype(float),
                "prediction": [label(p, self.bundle.threshold) for p in probs],
            }
        )


mlflow.models.set_model(SpamDetector())
