"""Sender / sender-domain reputation in the Feast feature store (the ``feast`` extra).

- :mod:`~spam_core.reputation.repo` — the feature repository: entities, feature views, the
  local ``feature_store.yaml`` (SQLite online store) and opening a store from a repo path.
- :mod:`~spam_core.reputation.history` — labeled e-mails -> history tables (one row per entity
  and time, counts *including* that time's e-mails, stamped one second later) and the entity
  frame of a point-in-time retrieval.
- :mod:`~spam_core.reputation.offline` — training: apply, point-in-time retrieval, materialize.
- :mod:`~spam_core.reputation.online` — serving: batched online lookups with a short cache,
  defaults for unknown entities, defaults + ``degraded`` when the store is unreachable.

The statistics -> feature transform is not here: it is :mod:`spam_core.features.reputation`,
shared by every path.
"""

import warnings

# Feast 0.49's SQLite store config shadows a field of its parent (a pydantic warning at import,
# harmless and not ours to fix): keep it out of every command's output.
warnings.filterwarnings(
    "ignore", message='Field name "vector_enabled"', category=UserWarning, module="pydantic"
)
