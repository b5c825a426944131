"""spam-platform feature transformer: e-mails -> 529 features (core + Feast) -> Triton -> scores.

Laid out like KServe's Python model server (``python/kserve/kserve``):

* :mod:`spam_transformer.model` — :class:`~spam_transformer.model.SpamTransformer`, one per model
  track: ``load`` → ``preprocess`` (spam_core parsing + features) → ``predict`` (one Triton call
  per request batch) → ``postprocess`` (threshold, label, confidence, engineered features);
* :mod:`spam_transformer.predictor` — the pooled async Triton client (gRPC or HTTP);
* :mod:`spam_transformer.protocol` — the wire: pydantic schemas, the protocol-agnostic
  :class:`~spam_transformer.protocol.dataplane.DataPlane`, and the REST server (FastAPI) that maps
  domain errors to HTTP in one place;
* :mod:`spam_transformer.server` — the composition root (settings → tracks → data plane → app);
  :mod:`spam_transformer.__main__` is the ``spam-transformer`` entry point.
"""

from importlib import metadata

try:
    __version__ = metadata.version("spam-transformer")
except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

# the model tracks every transformer serves (one KServe InferenceService each)
from spam_core.scoring import TRACKS as TRACKS
