"""Gateway settings: one typed ``Settings`` read from ``SPAM_GATEWAY_*`` environment variables.

The names the Helm chart renders into the gateway ConfigMap
(``charts/spam-platform/charts/gateway/templates/configmap.yaml``) are the first block below;
the rest are local knobs with defaults that suit both a laptop and the cluster. The API keys
are the one required secret: ``API_KEYS_FILE`` (the mounted Secret in the cluster) or
``API_KEYS`` (the same JSON inline, local use), never a default.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings

from spam_core.scoring import TRACKS, Track
from spam_core.settings import AbsolutePath, Location, settings_config

Environment = Track
_ORIGIN_RE = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
"""A browser origin: scheme, host (a name, an IPv4 or a bracketed IPv6 address), optional port."""
ENVIRONMENTS: tuple[Environment, ...] = TRACKS


class Settings(BaseSettings):
    model_config = settings_config("SPAM_GATEWAY_")

    # --- rendered by the chart (gateway ConfigMap) --------------------------------------------
    TRANSFORMER_URL: str = Field(
        "http://127.0.0.1:8081",
        description="Base URL of the feature transformer (POST /v1/predict, GET /ready).",
    )
    DEFAULT_ENVIRONMENT: Environment = Field(
        "staging", description="Model track for requests without an X-Environment header."
    )
    MODEL_NAME: str = Field(
        "spam-detector", description="Registered model name (reported when the upstream omits it)."
    )
    MODEL_VERSION_STAGING: str = Field(
        "", description="Model version deployed on the staging track (informational)."
    )
    MODEL_VERSION_PRODUCTION: str = Field(
        "", description="Model version deployed on the production track (informational)."
    )
    API_KEYS_FILE: AbsolutePath | None = Field(
        None,
        description='JSON file [{"name", "sha256", "role"}] with hashed API keys (mounted Secret).',
    )
    INFERENCE_LOG_URL: Location = Field(
        ".spam-platform/inference-logs",
        description="Where inference-log Parquet goes: a local directory, file://…, or "
        "abfs://<container>/<prefix> (Azure Blob).",
    )
    DRIFT_REPORTS_URL: str = Field(
        ".spam-platform/drift-reports",
        description="Where the drift job writes its reports (GET /monitoring/drift): a local "
        "directory or abfs://<container>/<prefix>; credentials as for the inference log.",
    )
    BATCH_BACKEND: Literal["none", "local", "rayjob"] = Field(
        "none",
        description="Async batch jobs (POST /predict/batch): none, local (a spam-batch "
        "subprocess with Ray on this machine) or rayjob (a KubeRay RayJob from the template).",
    )
    BATCH_STATUS_URL: Location = Field(
        ".spam-platform/batch/status",
        description="Where job status documents live: a directory or abfs://<container>/<path>.",
    )
    BATCH_OUTPUT_URL: Location = Field(
        ".spam-platform/batch/output",
        description="Default prefix of job outputs (<prefix>/<job_id>/predictions.parquet).",
    )
    BATCH_INPUT_ROOTS: list[Location] = Field(
        [".spam-platform/batch/input"],
        description="Where batch inputs may be read (JSON list): absolute local directories "
        "and abfs://<container>/<prefix> roots; anything else is refused with 422.",
    )
    BATCH_OUTPUT_ROOTS: list[Location] = Field(
        [],
        description="Where batch outputs may be written (JSON list, as BATCH_INPUT_ROOTS); "
        "empty: BATCH_OUTPUT_URL only.",
    )
    BATCH_MODEL_REF_STAGING: str | None = Field(
        None, description="Model of staging batch jobs; default models:/<MODEL_NAME>/<version>."
    )
    BATCH_MODEL_REF_PRODUCTION: str | None = Field(
        None, description="Model of production batch jobs; default as for staging."
    )
    BATCH_LOG_DIR: Location = Field(
        "/tmp/spam-gateway/batch-logs", description="Logs of local batch jobs."
    )
    BATCH_CPUS: int | None = Field(None, ge=1, description="CPUs of a local batch job's Ray.")
    BATCH_NAMESPACE: str | None = Field(None, description="Namespace RayJobs are created in.")
    BATCH_RAYJOB_TEMPLATE: AbsolutePath | None = Field(
        None, description="RayJob manifest template."
    )
    AZURE_STORAGE_ACCOUNT_NAME: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "AZURE_STORAGE_ACCOUNT_NAME", "SPAM_GATEWAY_AZURE_STORAGE_ACCOUNT_NAME"
        ),
        description="Storage account of abfs:// URLs (workload identity / DefaultAzureCredential).",
    )

    # --- secrets --------------------------------------------------------------------------------
    API_KEYS: SecretStr | None = Field(
        None, description="The API-keys JSON inline (local use); API_KEYS_FILE wins when set."
    )
    INFERENCE_LOG_CONNECTION_STRING: SecretStr | None = Field(
        None,
        description="Azure Storage connection string for abfs:// (Azurite locally); without it "
        "adlfs uses AZURE_STORAGE_ACCOUNT_NAME and DefaultAzureCredential.",
    )

    # --- server ---------------------------------------------------------------------------------
    HOST: str = Field("127.0.0.1", description="Bind address (the image sets 0.0.0.0).")
    PORT: int = Field(8080, ge=1, le=65535)
    WORKERS: int = Field(1, ge=1, description="uvicorn worker processes.")
    MAX_BODY_BYTES: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body; larger ones get 413."
    )
    MAX_BATCH_SIZE: int = Field(
        100, ge=1, le=100, description="Most e-mails per POST /predict/batch-sync."
    )
    BODY_TIMEOUT_S: float = Field(
        10.0, gt=0, description="Longest time to receive a request body (then 408)."
    )
    AUTH_FAILURES_PER_CLIENT: str = Field(
        "20/minute",
        description="Failed authentications (401) a client address may make per window before "
        "its requests get 429 with Retry-After (limits syntax: 20/minute, 100/hour); `off` (or "
        "an empty value given in code) turns it off. An empty environment variable counts as "
        "unset (the default applies), so the chart renders `off`.",
    )
    QUOTA_VIEWER: str = Field(
        "", description="Requests per window of each viewer key (e.g. 600/minute); empty: none."
    )
    QUOTA_REPORTER: str = Field(
        "", description="Requests per window of each reporter key; empty: none."
    )
    QUOTA_OPERATOR: str = Field(
        "", description="Requests per window of each operator key; empty: none."
    )
    CORS_ALLOW_ORIGINS: list[str] = Field(
        [],
        description="Origins browsers may call the API from (JSON list of scheme://host[:port], "
        'e.g. ["https://mail.example.com"]); empty: CORS off, no CORS headers at all. "*" (alone) '
        "allows any origin and is refused with CORS_ALLOW_CREDENTIALS.",
    )
    CORS_ALLOW_CREDENTIALS: bool = Field(
        False,
        description="Let browsers send cookies / HTTP authentication cross-origin (the API "
        "itself authenticates with X-API-Key, which needs no credentials mode).",
    )
    CORS_MAX_AGE_S: int = Field(
        600, ge=0, description="How long browsers may cache a preflight answer."
    )
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["console", "json"] = "json"
    ACCESS_LOG: bool = Field(True, description="One structured log line per request.")

    # --- upstream (transformer) -----------------------------------------------------------------
    UPSTREAM_CONNECT_TIMEOUT_S: float = Field(1.0, gt=0)
    UPSTREAM_TIMEOUT_S: float = Field(
        10.0, gt=0, description="Read/write timeout of one transformer call (then 504)."
    )
    UPSTREAM_MAX_CONNECTIONS: int = Field(64, ge=1, description="Pooled connections.")
    UPSTREAM_MAX_INFLIGHT: int = Field(
        2,
        ge=1,
        description="Concurrent transformer calls per track for single predictions; requests "
        "arriving while they run are merged into the next call (up to MAX_BATCH_SIZE).",
    )
    RETRY_AFTER_S: int = Field(
        5, ge=1, description="Retry-After on 503 when the transformer cannot be reached."
    )
    HEALTH_TIMEOUT_S: float = Field(1.0, gt=0, description="Timeout of upstream health checks.")
    HEALTH_CACHE_S: float = Field(
        2.0, ge=0, description="How long GET /health reuses the transformer's last answer."
    )

    # --- inference log --------------------------------------------------------------------------
    INFERENCE_LOG_ENABLED: bool = True
    INFERENCE_LOG_SPOOL_DIR: AbsolutePath = Field(
        Path(".spam-platform/inference-spool"),
        description="Local directory holding Parquet files the store could not take yet.",
    )
    INFERENCE_LOG_BATCH_SIZE: int = Field(
        1000, ge=1, description="Flush when this many records are buffered."
    )
    INFERENCE_LOG_FLUSH_INTERVAL_S: float = Field(
        10.0, gt=0, description="Flush at least this often while records are buffered."
    )
    INFERENCE_LOG_RETRY_INTERVAL_S: float = Field(
        5.0, gt=0, description="First retry delay of spooled files (doubles up to 60 s)."
    )
    INFERENCE_LOG_MAX_PENDING: int = Field(
        200_000,
        ge=1,
        description="Records kept in memory when neither the store nor the spool takes them.",
    )
    INFERENCE_LOG_TIMEOUT_S: float = Field(
        10.0, gt=0, description="Connect/read timeout of one blob upload."
    )

    # --- user feedback (POST /feedback, app/feedback) ------------------------------------------
    FEEDBACK_FEAST_REPO: AbsolutePath | None = Field(
        None,
        description="Feast repository (feature_store.yaml) whose online store the feedback "
        "updates: the transformer's; unset, POST /feedback answers 503 feedback_disabled.",
    )
    FEEDBACK_LOG_URL: Location = Field(
        ".spam-platform/feedback-logs",
        description="Where feedback-log Parquet goes (as INFERENCE_LOG_URL, same credentials).",
    )
    FEEDBACK_LOG_SPOOL_DIR: AbsolutePath = Field(
        Path(".spam-platform/feedback-spool"),
        description="Local directory holding feedback-log files the store could not take yet.",
    )
    FEEDBACK_LOG_FLUSH_INTERVAL_S: float = Field(
        5.0, gt=0, description="Flush the feedback log at least this often."
    )
    FEEDBACK_MAX_PER_SENDER_DAY: int = Field(
        10,
        ge=1,
        description="Poisoning bound: reports of one reporter that may move one sender's "
        "totals per UTC day; later ones are recorded as capped.",
    )
    FEEDBACK_MAX_PER_DOMAIN_DAY: int = Field(
        50, ge=1, description="The same bound for one sender domain."
    )
    FEEDBACK_QUOTA: str = Field(
        "1000/hour",
        description="Reports per window of each key (a batch counts each report; limits "
        "syntax); over it 429 quota_exceeded; empty: none.",
    )
    FEEDBACK_RECENT_EMAILS_MB: int = Field(
        64,
        ge=0,
        description="MiB of recently scored e-mails this gateway keeps so a report may name a "
        "prediction by email_id alone; 0: reports must carry the e-mail.",
    )

    # --- shadow scoring (app/shadow.py) -----------------------------------------------------
    SHADOW_ENABLED: bool = Field(
        False,
        description="Also score a sampled share of the production track's e-mails with the "
        "staging model, after the answer and off the request path; both scores go to the "
        "shadow log (spam-platform promote reports agreement and accuracy on them).",
    )
    SHADOW_SAMPLE_RATE: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Share of production e-mails shadow-scored (0..1), decided by a hash of "
        "the email_id: the same id is always in or always out.",
    )
    SHADOW_MAX_INFLIGHT: int = Field(
        2,
        ge=1,
        description="Staging calls of the shadow at once (its own connections); e-mails "
        "sampled meanwhile wait and go together in the next call (up to MAX_BATCH_SIZE).",
    )
    SHADOW_MAX_PENDING: int = Field(
        1000,
        ge=1,
        description="Sampled e-mails that may wait for a shadow call; more are dropped and "
        "counted (spam_gateway_shadow_dropped_total): the shadow never holds a request up.",
    )
    SHADOW_MAX_PENDING_MB: int = Field(
        64,
        ge=1,
        description="MiB of sampled e-mails (their text) that may wait for a shadow call; an "
        "e-mail over it is dropped and counted, so waiting e-mails cannot exhaust memory.",
    )
    SHADOW_TIMEOUT_S: float = Field(
        2.0, gt=0, description="Longest shadow call; a slower one is abandoned and counted."
    )
    SHADOW_LOG_URL: Location = Field(
        ".spam-platform/shadow-logs",
        description="Where shadow-log Parquet goes (as INFERENCE_LOG_URL, same credentials).",
    )
    SHADOW_LOG_SPOOL_DIR: AbsolutePath = Field(
        Path(".spam-platform/shadow-spool"),
        description="Local directory holding shadow-log files the store could not take yet.",
    )

    @model_validator(mode="after")
    def _require_api_keys(self) -> Settings:
        if self.API_KEYS_FILE is None and self.API_KEYS is None:
            raise ValueError(
                "API keys are required: set SPAM_GATEWAY_API_KEYS_FILE (a JSON file of "
                '[{"name", "sha256", "role"}]) or SPAM_GATEWAY_API_KEYS (the same JSON); '
                "hash a key with `spam-gateway hash-key`"
            )
        return self

    @field_validator(
        "AUTH_FAILURES_PER_CLIENT",
        "QUOTA_VIEWER",
        "QUOTA_REPORTER",
        "QUOTA_OPERATOR",
        "FEEDBACK_QUOTA",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        if value.strip().lower() == "off":
            return ""
        if value:
            parse(value)  # ValueError names what it cannot read
        return value

    @field_validator("CORS_ALLOW_ORIGINS")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        if "*" in value and len(value) > 1:
            raise ValueError('"*" allows every origin: give it alone or list the origins')
        for origin in value:
            if origin != "*" and not _ORIGIN_RE.fullmatch(origin):
                raise ValueError(
                    f"{origin[:100]!r} is not an origin: scheme://host[:port], without a path "
                    'or trailing slash (e.g. "https://mail.example.com"), or "*"'
                )
        return value

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Settings:
        if self.CORS_ALLOW_CREDENTIALS and "*" in self.CORS_ALLOW_ORIGINS:
            raise ValueError(
                'CORS_ALLOW_ORIGINS "*" with CORS_ALLOW_CREDENTIALS would let any web site '
                "call the API with the visitor's credentials: list the allowed origins"
            )
        return self

    @model_validator(mode="after")
    def _default_output_root(self) -> Settings:
        if not self.BATCH_OUTPUT_ROOTS:
            self.BATCH_OUTPUT_ROOTS = [self.BATCH_OUTPUT_URL]
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model_versions(self) -> dict[str, str]:
        return {"staging": self.MODEL_VERSION_STAGING, "production": self.MODEL_VERSION_PRODUCTION}

    def store_credentials(self) -> dict[str, str | None]:
        """How the gateway's stores (``LogStore``: inference log, feedback log, drift reports)
        reach ``abfs://`` URLs: the connection string when set, else the account name with
        DefaultAzureCredential."""
        secret = self.INFERENCE_LOG_CONNECTION_STRING
        return {
            "connection_string": secret.get_secret_value() if secret else None,
            "account_name": self.AZURE_STORAGE_ACCOUNT_NAME,
        }

    def public(self) -> dict[str, object]:
        """Non-secret settings (GET /admin/config)."""
        return self.model_dump(
            mode="json",
            exclude={"API_KEYS", "INFERENCE_LOG_CONNECTION_STRING"},
        )


class JobSettings(Settings):
    """The settings of ``spam-gateway materialize``: the gateway's, without the API keys.

    The job answers no request, so the chart's CronJob mounts no API-key Secret (least
    privilege); every other field and default is the gateway's.
    """

    @model_validator(mode="after")
    def _require_api_keys(self) -> JobSettings:  # overrides the gateway's requirement
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
