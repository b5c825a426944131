"""One rule for every driver that starts or joins Ray (Ray Tune in the trainer, the batch job).

Ray (2.44 and later) notices a driver started by ``uv run`` and, unless told otherwise, makes
every worker start as ``uv run … python`` in an upload of the driver's working directory. A
worker on a Ray cluster built from an image (the chart's tuning and batch RayClusters, a
separately started ``ray start --head``) has neither ``uv`` nor this checkout: it dies on start
("exec: uv: not found") and the job waits forever. Workers here run the Python they were
started with — the image's, or for an embedded Ray this driver's own environment.
"""

from __future__ import annotations

import os
import sys

UV_HOOK = "RAY_ENABLE_UV_RUN_RUNTIME_ENV"


def workers_without_uv_run() -> None:
    """Switch off Ray's ``uv run`` worker hook for this process: through the environment (read
    when Ray is imported) and, where Ray is imported already, in its constants (read at
    ``ray.init``). Ray Client (``ray://``) reads it when Ray is imported, so the CLI and the
    test session call this before any import of Ray; tune and the batch job call it again."""
    os.environ[UV_HOOK] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
