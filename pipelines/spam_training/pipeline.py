"""The ``spam-training`` Kubeflow pipeline (KFP v2): corpus -> registered, exported model.

ingest -> feedback -> reputation (Feast) -> features -> tune -> train-evaluate -> export +
baseline (in parallel) -> register

Each step runs the trainer image (:data:`TRAINER_IMAGE`, overridable with
``$SPAM_TRAINER_IMAGE`` or ``compile --image``) and calls the stage functions of
``spam_trainer.train`` / ``spam_trainer.reputation``; see
:mod:`pipelines.spam_training.components`.

Versioning: :data:`VERSION` names the compiled file (``compiled/spam-training-v<VERSION>.yaml``).
Any change to the pipeline's interface or behaviour gets a new version (a new file; old files
are kept so runs can be traced back to the exact spec that produced them).
"""

import os
from importlib.metadata import version
from typing import NamedTuple

from kfp import dsl, kubernetes
from kfp.dsl import Metrics, Model

from pipelines.spam_training.components import make_components
from spam_core.ingest import PUBLIC_CORPUS_URL
from spam_trainer.feedback_data import DEFAULT_RECENT_DAYS

PIPELINE_NAME = "spam-training"
VERSION = 5
# The trainer image's tag is the spam-trainer package version (images/trainer/pyproject.toml),
# the one place it is set; the compiled spec, pipelines/README.md and the build commands follow.
TRAINER_VERSION = version("spam-trainer")
DEFAULT_TRAINER_IMAGE = f"spam-platform/trainer:{TRAINER_VERSION}"
IMAGE_ENV = "SPAM_TRAINER_IMAGE"
DEFAULT_MLFLOW_TRACKING_URI = "http://mlflow.mlflow.svc.cluster.local:5000"

# The chart's Feast configuration (charts/spam-platform, spam-common.feast.configMap and
# global.redis.existingSecret) as the reputation pod sees it: the ConfigMap mounted where the
# chart's own pods mount it, the Redis password as the variable the chart's pods get. Both are
# optional mounts, so a run without the chart in its namespace still starts (feast_repo="").
CHART_FEAST_MOUNT = "/etc/spam-platform/feast"
DEFAULT_FEAST_CONFIG_MAP = "spam-platform-transformer-feast"
DEFAULT_FEAST_REDIS_SECRET = "spam-platform-redis"
REDIS_PASSWORD_KEY = "redis-password"

# Pod resources. Tune and train-evaluate take the `cpus` parameter as CPU request and limit.
MEMORY = {
    # step: (request, limit)
    "ingest": ("1Gi", "4Gi"),
    "feedback": ("1Gi", "4Gi"),
    "reputation": ("1Gi", "4Gi"),
    "features": ("1Gi", "4Gi"),
    "tune": ("2Gi", "8Gi"),
    "train-evaluate": ("2Gi", "6Gi"),
    "export": ("1Gi", "4Gi"),
    "baseline": ("1Gi", "4Gi"),
    "register": ("1Gi", "4Gi"),
}
LIGHT_CPU = ("1", "2")


class PipelineOutputs(NamedTuple):
    """What a run returns: the register step's outputs, test metrics, the registered bundle."""

    run_id: str
    model_version: str
    staging: bool
    gate_failures: str
    metrics: Metrics
    bundle: Model


def trainer_image() -> str:
    """``$SPAM_TRAINER_IMAGE`` if set, else the default (the spam-trainer version's tag)."""
    return os.environ.get(IMAGE_ENV) or DEFAULT_TRAINER_IMAGE


def compiled_file_name(version: int = VERSION) -> str:
    return f"{PIPELINE_NAME}-v{version}.yaml"


def _resources(task: dsl.PipelineTask, step: str, cpu: tuple[str, str] | None = None):
    mem_request, mem_limit = MEMORY[step]
    cpu_request, cpu_limit = cpu or LIGHT_CPU
    return (
        task.set_cpu_request(cpu_request)
        .set_cpu_limit(cpu_limit)
        .set_memory_request(mem_request)
        .set_memory_limit(mem_limit)
    )


def build_pipeline(image: str | None = None):
    """The pipeline function, its components running ``image`` (default: :func:`trainer_image`)."""
    ops = make_components(image or trainer_image())

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description=(
            f"spam-platform training v{VERSION}: ingest + feedback labels -> sender "
            "reputation (Feast, "
            "point-in-time) -> features -> Ray Tune XGBoost -> "
            "final model + test evaluation -> ONNX/Triton export + drift baseline -> MLflow "
            "run, registered version, alias staging when the quality gates pass."
        ),
    )
    def spam_training(
        corpus: str = PUBLIC_CORPUS_URL,
        feedback_log: str = "",
        feedback_recent_days: float = DEFAULT_RECENT_DAYS,
        feast_repo: str = "",
        feast_config_map: str = DEFAULT_FEAST_CONFIG_MAP,
        feast_redis_secret: str = DEFAULT_FEAST_REDIS_SECRET,
        feast_history: str = "",
        trials: int = 20,
        cpus: str = "4",
        seed: int = 42,
        max_rounds: int = 1000,
        ray_address: str = "",
        model_name: str = "spam-detector",
        mlflow_tracking_uri: str = DEFAULT_MLFLOW_TRACKING_URI,
        mlflow_experiment: str = "spam-detector",
        register: bool = True,
        gate_f1_min: float = 0.95,
        gate_roc_auc_min: float = 0.99,
        gate_cold_fpr_max: float = 0.005,
        publish_url: str = "",
    ) -> PipelineOutputs:
        """Train, evaluate, export and register the spam detector.

        Args:
            corpus: Corpus source: directory of archives, archive, message tree, maildir,
                mbox, or an https:// base URL (default: the public SpamAssassin corpus).
            feedback_log: The gateway's feedback log (abfs://... as the chart's
                gateway.feedback writes it, or a path in the pod; it must exist): its
                labeled e-mails join the corpus's train and validation splits, the recent
                ones are held out and reported. Empty: the corpus only.
            feedback_recent_days: Feedback reported within this many days of the log's
                newest report is held out of training as the recent slice; 0: none.
            feast_repo: Feast repository (directory with feature_store.yaml) inside the
                container: the reputation history is applied there and materialized into its
                online store; /etc/spam-platform/feast is the chart's (feast_config_map).
                Empty: a private SQLite repository in the reputation step (point-in-time
                retrieval only, no online store updated).
            feast_config_map: The chart's feature_store.yaml ConfigMap
                (<release>-transformer-feast), mounted at /etc/spam-platform/feast in the
                reputation pod when it exists.
            feast_redis_secret: The chart's global.redis.existingSecret; its redis-password
                becomes $SPAM_REDIS_PASSWORD in the reputation pod when it exists.
            feast_history: Where the offline reputation history goes (the sources the
                registry names), with the chart e.g.
                abfs://datasets@<account>.dfs.core.windows.net/feast/history (the account in
                the URL); empty: the step's temporary directory.
            trials: Ray Tune trials.
            cpus: Whole CPUs for Ray Tune and the final fit, also the CPU request and limit
                of those two steps (a string: KFP resolves resource placeholders from
                string parameters only).
            seed: Seed of the search and of every fit.
            max_rounds: Upper bound of boosting rounds.
            ray_address: Ray cluster the tune step's trials run on (ray.init(address=...)):
                the KubeRay head's Ray Client URI ray://<head-svc>.<namespace>.svc:10001 or
                its GCS address <head-svc>:6379; its workers need the trainer image's
                packages and Ray version. Empty: an embedded Ray inside the tune pod.
            model_name: Registered model name (also the Triton model name).
            mlflow_tracking_uri: MLflow tracking server (empty: the pod's
                $MLFLOW_TRACKING_URI, else a throw-away SQLite store in the pod).
            mlflow_experiment: MLflow experiment.
            register: Register the model version (else: an MLflow run only).
            gate_f1_min: Quality gate for alias staging: F1 on the test split.
            gate_roc_auc_min: Quality gate for alias staging: ROC-AUC on the test split.
            gate_cold_fpr_max: Quality gate for alias staging: largest ham false-positive
                rate for unknown senders (test split, reputation at its defaults, raw and
                API field form).
            publish_url: Publish a version that passed the gates here (abfs://<models
                container> or a directory in the container; the chart's
                global.storage.modelsContainer) where the InferenceServices read it, verified
                by checksum. Empty: not published.
        """
        ingested = ops["ingest"](corpus=corpus).set_retry(num_retries=2, backoff_duration="60s")
        _resources(ingested, "ingest")
        # the feedback log grows under the same URL: this step is never served from the cache
        fed = ops["feedback"](
            corpus_dataset=ingested.outputs["dataset"],
            feedback_log=feedback_log,
            feedback_recent_days=feedback_recent_days,
        )
        _resources(fed, "feedback").set_caching_options(enable_caching=False)
        dataset = fed.outputs["dataset"]

        reputed = _resources(
            ops["reputation"](dataset=dataset, feast_repo=feast_repo, feast_history=feast_history),
            "reputation",
        )
        kubernetes.use_config_map_as_volume(
            reputed, config_map_name=feast_config_map, mount_path=CHART_FEAST_MOUNT, optional=True
        )
        kubernetes.use_secret_as_env(
            reputed,
            secret_name=feast_redis_secret,
            secret_key_to_env={REDIS_PASSWORD_KEY: "SPAM_REDIS_PASSWORD"},
            optional=True,
        )
        stats = reputed.outputs["stats"]

        fitted = _resources(ops["features"](dataset=dataset, reputation=stats), "features")
        features = fitted.outputs["features"]

        tuned = ops["tune"](
            dataset=dataset,
            features=features,
            reputation=stats,
            trials=trials,
            cpus=cpus,
            seed=seed,
            max_rounds=max_rounds,
            ray_address=ray_address,
        )
        _resources(tuned, "tune", cpu=(cpus, cpus))

        trained = ops["train_evaluate"](
            dataset=dataset, features=features, reputation=stats, tuning=tuned.outputs["tuning"]
        )
        _resources(trained, "train-evaluate", cpu=(cpus, cpus))
        model = trained.outputs["model"]

        exported = ops["export"](
            dataset=dataset,
            features=features,
            reputation=stats,
            model=model,
            model_name=model_name,
        )
        _resources(exported, "export")

        baselined = _resources(
            ops["baseline"](dataset=dataset, features=features, reputation=stats, model=model),
            "baseline",
        )

        registered = ops["register"](
            dataset=dataset,
            tuning=tuned.outputs["tuning"],
            model=model,
            bundle=exported.outputs["bundle"],
            baseline=baselined.outputs["baseline"],
            model_name=model_name,
            mlflow_tracking_uri=mlflow_tracking_uri,
            mlflow_experiment=mlflow_experiment,
            register=register,
            gate_f1_min=gate_f1_min,
            gate_roc_auc_min=gate_roc_auc_min,
            gate_cold_fpr_max=gate_cold_fpr_max,
            publish_url=publish_url,
        )
        # a new MLflow run and model version every time: never served from the cache
        _resources(registered, "register").set_caching_options(enable_caching=False)

        return PipelineOutputs(
            run_id=registered.outputs["run_id"],
            model_version=registered.outputs["model_version"],
            staging=registered.outputs["staging"],
            gate_failures=registered.outputs["gate_failures"],
            metrics=trained.outputs["metrics"],
            bundle=registered.outputs["registered_bundle"],
        )

    return spam_training
