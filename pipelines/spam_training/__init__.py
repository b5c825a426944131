"""The ``spam-training`` KFP v2 pipeline: corpus -> registered, exported spam detector."""

from pipelines.spam_training.pipeline import (
    DEFAULT_TRAINER_IMAGE,
    IMAGE_ENV,
    PIPELINE_NAME,
    TRAINER_VERSION,
    VERSION,
    build_pipeline,
    compiled_file_name,
    trainer_image,
)

__all__ = [
    "DEFAULT_TRAINER_IMAGE",
    "IMAGE_ENV",
    "PIPELINE_NAME",
    "TRAINER_VERSION",
    "VERSION",
    "build_pipeline",
    "compiled_file_name",
    "trainer_image",
]
