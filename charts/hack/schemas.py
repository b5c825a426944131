"""Generate the charts' values.schema.json files (draft-07) from one description.

    uv run python charts/hack/schemas.py          # rewrite the schemas
    uv run python charts/hack/schemas.py --check  # exit 1 if a committed schema is stale

Every object is closed (`additionalProperties: false`) so a mistyped key fails before render.
Mutually exclusive options are `if`/`then` rules here and `fail` guards in the templates
(`<chart>.validateValues`), so they hold even with `--skip-schema-validation`. Emptiness of
required installation settings is left to the guards, whose messages say what to set.
Subchart schemas accept `global` (validated by the umbrella), `enabled` (the umbrella's
toggle) and `spam-common` (the library dependency Helm adds to every chart's values).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parents[1] / "spam-platform"
SUBCHARTS = ("gateway", "transformer", "inference", "batch", "drift")
PRESETS = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"]
CIDR_PATTERN = r"^[0-9a-fA-F.:]+/[0-9]{1,3}$"
DURATION_PATTERN = r"^[0-9]+(ms|s|m|h)$"
Schema = dict[str, Any]


def obj(props: Schema, required: list[str] | None = None, desc: str | None = None) -> Schema:
    """A closed object; every property is required unless `required` says otherwise."""
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    required = list(props) if required is None else required
    if required:
        schema["required"] = required
    if desc:
        schema["description"] = desc
    return schema


def when(schema: Schema, condition: Schema, then: Schema) -> Schema:
    schema["if"] = {"properties": condition}
    schema["then"] = {"properties": then}
    return schema


def string_map(desc: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    if desc:
        schema["description"] = desc
    return schema


def s(desc: str | None = None, **kw: Any) -> Schema:
    return {"type": "string", **kw, **({"description": desc} if desc else {})}


def i(desc: str | None = None, **kw: Any) -> Schema:
    return {"type": "integer", **kw, **({"description": desc} if desc else {})}


def n(desc: str | None = None, **kw: Any) -> Schema:
    return {"type": "number", **kw, **({"description": desc} if desc else {})}


def b(desc: str | None = None) -> Schema:
    return {"type": "boolean", **({"description": desc} if desc else {})}


def arr(items: Schema, desc: str | None = None, **kw: Any) -> Schema:
    return {"type": "array", "items": items, **kw, **({"description": desc} if desc else {})}


def optional_int(desc: str, **kw: Any) -> Schema:
    """An integer, or "" for "not set"."""
    return {"anyOf": [{"type": "integer", **kw}, {"const": ""}], "description": desc}


QUANTITY = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"},
    ]
}
INT_OR_PERCENT = {
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^([0-9]+%?)?$"}]
}


def resources() -> Schema:
    limits = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY},
    }
    return obj({"requests": limits, "limits": limits}, required=[], desc="Requests and limits")


def image(pull_policy: bool = True) -> Schema:
    props: Schema = {
        "registry": s("Image registry"),
        "repository": s("Image repository", minLength=1),
        "tag": {"type": ["string", "number"], "description": "Image tag"},
        "digest": s("Image digest", pattern=r"^(sha256:[a-f0-9]{64})?$"),
    }
    if pull_policy:
        props["pullPolicy"] = s(enum=["Always", "IfNotPresent", "Never"])
    return obj(props)


def probe(with_path: bool = False) -> Schema:
    props: Schema = {
        "enabled": b(),
        "initialDelaySeconds": i(minimum=0),
        "periodSeconds": i(minimum=1),
        "timeoutSeconds": i(minimum=1),
        "failureThreshold": i(minimum=1),
    }
    if with_path:
        props["path"] = s(pattern="^/")
    return obj(props)


def autoscaling() -> Schema:
    def policy(what: str) -> Schema:
        return obj(
            {
                "stabilizationWindowSeconds": i(minimum=0, maximum=3600),
                "percent": i(f"largest {what} per period, percent of the pods", minimum=1),
                "pods": i(f"largest {what} per period, pods", minimum=1),
                "periodSeconds": i(minimum=1, maximum=1800),
            }
        )

    schema = obj(
        {
            "enabled": b(),
            "minReplicas": i(minimum=1),
            "maxReplicas": i(minimum=1),
            "targetCPUUtilizationPercentage": i(minimum=1, maximum=100),
            "requestsPerSecond": obj(
                {
                    "enabled": b(),
                    "metricName": s(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"),
                    "averageValue": {
                        "anyOf": [
                            {"type": "number", "exclusiveMinimum": 0},
                            {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?m?$"},
                        ]
                    },
                },
                desc="Requests per second per pod (Prometheus Adapter)",
            ),
            "behavior": obj({"scaleUp": policy("increase"), "scaleDown": policy("decrease")}),
        }
    )
    return schema


def pdb() -> Schema:
    schema = obj({"create": b(), "minAvailable": INT_OR_PERCENT, "maxUnavailable": INT_OR_PERCENT})
    schema["if"] = {
        "properties": {"create": {"const": True}, "minAvailable": {"not": {"const": ""}}}
    }
    schema["then"] = {
        "properties": {
            "maxUnavailable": {"const": "", "description": "mutually exclusive with minAvailable"}
        }
    }
    return schema


def scheduling() -> Schema:
    return {
        "nodeSelector": string_map(),
        "tolerations": arr({"type": "object"}),
        "affinity": {"type": "object"},
    }


def metrics() -> Schema:
    """`metrics` of a chart whose service answers GET /metrics (spam-common.serviceMonitor)."""
    return obj(
        {
            "serviceMonitor": obj(
                {
                    "enabled": b(),
                    "interval": s(pattern=DURATION_PATTERN),
                    "scrapeTimeout": s(pattern=DURATION_PATTERN),
                    "labels": string_map(),
                }
            )
        }
    )


def monitoring_namespaces() -> Schema:
    """Who may scrape (spam-common.networkPolicy.monitoringIngress)."""
    return arr(s(minLength=1))


def spread() -> Schema:
    return arr({"type": "object", "required": ["maxSkew", "topologyKey", "whenUnsatisfiable"]})


def deployment_common() -> Schema:
    return {
        "replicaCount": i(minimum=0),
        "autoscaling": autoscaling(),
        "pdb": pdb(),
        "resourcesPreset": s(enum=PRESETS),
        "resources": resources(),
        "podAnnotations": string_map(),
        "podLabels": string_map(),
        **scheduling(),
        "topologySpreadConstraints": spread(),
        "priorityClassName": s(),
        "terminationGracePeriodSeconds": i(minimum=0),
        "serviceAccount": obj({"annotations": string_map()}),
    }


def subchart(props: Schema, desc: str) -> Schema:
    umbrella_keys = {
        "global": {"type": "object", "description": "Shared values, validated by the umbrella"},
        "enabled": b("The umbrella chart's <component>.enabled toggle"),
        "spam-common": {"type": "object", "description": "Added by Helm for the library"},
    }
    return obj({**umbrella_keys, **props}, required=list(props), desc=desc)


RATE_PATTERN = r"^$|^[0-9]+ ?(/|per) ?([0-9]+ )?(second|minute|hour|day)s?$"
"""A rate in the ``limits`` library's syntax (``20/minute``, ``100 per hour``) or empty (off)."""


CRON_PATTERN = r"^\S+( \S+){4}$"


def cron_job() -> Schema:
    """A CronJob's run policy (concurrency, deadlines, history)."""
    return obj(
        {
            "concurrencyPolicy": s(enum=["Forbid", "Replace", "Allow"]),
            "startingDeadlineSeconds": i(minimum=10),
            "activeDeadlineSeconds": i(minimum=60),
            "backoffLimit": i(minimum=0),
            "ttlSecondsAfterFinished": i(minimum=0),
            "successfulJobsHistoryLimit": i(minimum=0),
            "failedJobsHistoryLimit": i(minimum=0),
            "suspend": b(),
        }
    )


def feedback() -> Schema:
    """gateway.feedback: POST /feedback settings and the materialize CronJob."""
    return obj(
        {
            "enabled": b(),
            "logUrl": s(
                "Feedback-log location; empty: abfs://<logsContainer>/feedback-logs",
                pattern=r"^(abfs://[^/\s]+(/\S*)?)?$",
            ),
            "quota": s(pattern=RATE_PATTERN),
            "maxPerSenderDay": i(minimum=1),
            "maxPerDomainDay": i(minimum=1),
            "recentEmailsMb": i(minimum=0),
            "materialize": obj(
                {
                    "enabled": b(),
                    "schedule": s("Cron schedule (5 fields, UTC)", pattern=CRON_PATTERN),
                    "job": cron_job(),
                    "resourcesPreset": s(enum=PRESETS),
                    "resources": resources(),
                    "podAnnotations": string_map(),
                    "podLabels": string_map(),
                    **scheduling(),
                    "serviceAccount": obj({"annotations": string_map()}),
                }
            ),
        }
    )


def shadow() -> Schema:
    """gateway.shadow: shadow scoring of production traffic by the staging model."""
    return obj(
        {
            "enabled": b(),
            "sampleRate": n("Share of production e-mails shadow-scored", minimum=0, maximum=1),
            "maxInflight": i(minimum=1),
            "maxPending": i(minimum=1),
            "maxPendingMb": i(minimum=1),
            "timeoutSeconds": n(exclusiveMinimum=0),
            "logUrl": s(
                "Shadow-log location; empty: abfs://<logsContainer>/shadow-logs",
                pattern=r"^(abfs://[^/\s]+(/\S*)?)?$",
            ),
        }
    )


ORIGIN_PATTERN = r"^(\*|https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?)$"
"""A browser origin (scheme://host[:port], no path), or "*": the gateway's CORS_ALLOW_ORIGINS."""


def cors() -> Schema:
    schema = obj(
        {
            "allowedOrigins": arr(
                s(pattern=ORIGIN_PATTERN),
                "Origins browser pages may call the API from; empty: CORS off",
                uniqueItems=True,
            ),
            "allowCredentials": b("Cookies / HTTP authentication cross-origin; never with *"),
            "maxAgeSeconds": i("Preflight cache time", minimum=0),
        }
    )
    # never "*" with credentials (also a fail guard: gateway.validateValues.cors)
    return when(
        schema,
        {"allowCredentials": {"const": True}},
        {
            "allowedOrigins": {
                "not": {"contains": {"const": "*"}},
                "description": "* with allowCredentials would let any site use the visitor's "
                "credentials",
            }
        },
    )


def gateway() -> Schema:
    ingress = obj(
        {
            "enabled": b(),
            "className": s(),
            "host": s(),
            "path": s(pattern="^/"),
            "pathType": s(enum=["Prefix", "Exact", "ImplementationSpecific"]),
            "tlsSecretName": s(),
            "annotations": string_map(),
        }
    )
    when(ingress, {"enabled": {"const": True}}, {"host": {"minLength": 1}})
    istio = obj(
        {
            "enabled": b(),
            "hosts": arr(s(minLength=1), "API host names"),
            "gateway": obj(
                {
                    "create": b(),
                    "selector": string_map("Labels of the ingress gateway pods"),
                    "tlsCredentialName": s(),
                    "existing": arr(s(pattern=r"^[a-z0-9-]+/[a-z0-9.-]+$"), "<namespace>/<name>"),
                }
            ),
            "virtualService": obj({"timeout": s(pattern=DURATION_PATTERN)}),
            "destinationRule": obj(
                {
                    "outlierDetection": obj(
                        {
                            "consecutive5xxErrors": i(minimum=1),
                            "interval": s(pattern=DURATION_PATTERN),
                            "baseEjectionTime": s(pattern=DURATION_PATTERN),
                        }
                    )
                }
            ),
            "authorizationPolicy": obj(
                {
                    "ingressPrincipals": arr(s(minLength=1), minItems=1),
                    "paths": arr(s(pattern=r"^(/\S*|\*\S*)$"), minItems=1),
                    "monitoringNamespaces": arr(s(minLength=1)),
                }
            ),
            "networkPolicy": obj({"istiodNamespaces": arr(s(minLength=1), minItems=1)}),
        },
        desc="Istio ingress: Gateway, VirtualService, DestinationRule, PeerAuthentication, "
        "AuthorizationPolicy",
    )
    when(istio, {"enabled": {"const": True}}, {"hosts": {"minItems": 1}})
    schema = subchart(
        {
            "image": image(),
            **deployment_common(),
            "defaultEnvironment": s(enum=["", "staging", "production"]),
            "apiKeys": obj(
                {"existingSecret": s(), "key": s(minLength=1), "testKey": s(minLength=1)}
            ),
            "asyncBatch": obj(
                {
                    "enabled": b(),
                    "allowedInputs": arr(
                        s(pattern=r"^(abfs://[^/\s]+(/\S*)?|/\S*)$"),
                        "Locations batch jobs may read (abfs://<container>/<prefix> or absolute "
                        "directories)",
                    ),
                    "allowedOutputs": arr(
                        s(pattern=r"^(abfs://[^/\s]+(/\S*)?|/\S*)$"),
                        "Locations batch jobs may write",
                    ),
                }
            ),
            "cors": cors(),
            "limits": obj(
                {
                    "bodyTimeoutSeconds": n(exclusiveMinimum=0),
                    "authFailuresPerClient": s(pattern=RATE_PATTERN),
                    "quotas": obj(
                        {
                            "viewer": s(pattern=RATE_PATTERN),
                            "reporter": s(pattern=RATE_PATTERN),
                            "operator": s(pattern=RATE_PATTERN),
                        }
                    ),
                }
            ),
            "service": obj(
                {
                    "type": s(enum=["ClusterIP", "NodePort", "LoadBalancer"]),
                    "port": i(minimum=1024, maximum=65535),
                    "annotations": string_map(),
                }
            ),
            "ingress": ingress,
            "istio": istio,
            "livenessProbe": probe(),
            "readinessProbe": probe(with_path=True),
            "metrics": metrics(),
            "feedback": feedback(),
            "shadow": shadow(),
            "networkPolicy": obj(
                {
                    "ingressNamespaces": arr(s(minLength=1)),
                    "monitoringNamespaces": monitoring_namespaces(),
                    "kubeAPIServerCIDRs": arr(s(pattern=CIDR_PATTERN)),
                }
            ),
        },
        "spam-platform gateway values",
    )
    # One way in: an Ingress or Istio.
    return when(
        schema,
        {"ingress": {"properties": {"enabled": {"const": True}}}},
        {
            "istio": {
                "properties": {
                    "enabled": {"const": False, "description": "mutually exclusive with ingress"}
                }
            }
        },
    )


def transformer() -> Schema:
    return subchart(
        {
            "image": image(),
            **deployment_common(),
            "reputation": obj(
                {
                    "cacheTtlSeconds": n("seconds; 0 turns the cache off", minimum=0),
                    "cacheSize": i("entries per pod", minimum=1),
                    "retryAfterSeconds": n("seconds", exclusiveMinimum=0),
                },
                desc="Sender reputation lookups in the Feast online store",
            ),
            "livenessProbe": probe(),
            "readinessProbe": probe(),
            "metrics": metrics(),
            "networkPolicy": obj({"monitoringNamespaces": monitoring_namespaces()}),
        },
        "spam-platform transformer values",
    )


def inference() -> Schema:
    def track(name: str, min_replicas: Schema) -> Schema:
        return obj(
            {
                "minReplicas": min_replicas,
                "maxReplicas": i(minimum=1),
                "canaryTrafficPercent": optional_int("0-100, or empty", minimum=0, maximum=100),
                "scaleTarget": optional_int("per-pod autoscaling target, or empty", minimum=1),
                "resourcesPreset": s(enum=PRESETS),
                "resources": resources(),
                "topologySpreadConstraints": spread(),
                "storageUri": s(pattern=r"^$|^(https://|pvc://|gs://|s3://|hf://)"),
            },
            desc=f"The {name} model track",
        )

    runtime = obj({"create": b(), "existing": s(), "image": image(pull_policy=False)})
    when(
        runtime,
        {"create": {"const": True}},
        {"existing": {"const": "", "description": "mutually exclusive with create"}},
    )
    return subchart(
        {
            "tracks": obj(
                {
                    "staging": track("staging", i("0 scales to zero (Knative)", minimum=0)),
                    "production": track("production", i("never scales to zero", minimum=1)),
                }
            ),
            "servingRuntime": runtime,
            "annotations": string_map(),
            "podLabels": string_map(),
            **scheduling(),
            "serviceAccount": obj({"annotations": string_map()}),
        },
        "spam-platform inference values",
    )


def batch() -> Schema:
    return subchart(
        {
            "image": image(),
            "rayVersion": s(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$"),
            "authMode": s(enum=["token", "disabled", ""]),
            "head": obj({"resourcesPreset": s(enum=PRESETS), "resources": resources()}),
            "workers": obj(
                {
                    "replicas": i(minimum=0),
                    "resourcesPreset": s(enum=PRESETS),
                    "resources": resources(),
                }
            ),
            "autoscaling": obj(
                {
                    "enabled": b(),
                    "minWorkers": i(minimum=0),
                    "maxWorkers": i(minimum=1),
                    "upscalingMode": s(enum=["Default", "Conservative", "Aggressive"]),
                    "idleTimeoutSeconds": i(minimum=0),
                    "resourcesPreset": s(enum=PRESETS),
                    "resources": resources(),
                },
                desc="Ray's in-tree autoscaler for the workers",
            ),
            "rayJob": obj(
                {
                    "entrypoint": s(),
                    "submissionMode": s(enum=["K8sJobMode", "HTTPMode"]),
                    "activeDeadlineSeconds": i(minimum=1),
                    "submitterResourcesPreset": s(enum=PRESETS),
                }
            ),
            **scheduling(),
            "serviceAccount": obj({"annotations": string_map()}),
            "rbac": obj({"create": b()}),
            "networkPolicy": obj(
                {
                    "kuberayOperatorNamespaces": arr(s(minLength=1)),
                    "kubeAPIServerCIDRs": arr(s(pattern=CIDR_PATTERN)),
                    "extraEgress": arr({"type": "object"}),
                }
            ),
        },
        "spam-platform batch values",
    )


def drift() -> Schema:
    cron = s("Cron schedule (5 fields, UTC)", pattern=r"^\S+( \S+){4}$")
    window = s("Window of a run", pattern=r"^[1-9][0-9]*[smhdw]$")

    def track(name: str) -> Schema:
        return obj({"enabled": b(), "schedule": cron, "since": window}, desc=f"The {name} track")

    return subchart(
        {
            "image": image(),
            "environments": obj({"staging": track("staging"), "production": track("production")}),
            "reportsUrl": s("Drift-reports location; empty: abfs://<logsContainer>/drift-reports"),
            "modelRefTemplate": s("Registry reference of a version's bundle; empty: models:/"),
            "thresholds": obj(
                {
                    "minRows": i(minimum=1),
                    "psi": n(exclusiveMinimum=0),
                    "ksAlpha": n(exclusiveMinimum=0, exclusiveMaximum=1),
                    "ksMinStatistic": n(minimum=0, maximum=1),
                    "featureShare": n(exclusiveMinimum=0, maximum=1),
                    "spamRateDelta": n(exclusiveMinimum=0, maximum=1),
                }
            ),
            "alerts": obj(
                {
                    "webhook": obj(
                        {
                            "existingSecret": s(),
                            "key": s(minLength=1),
                            "format": s(enum=["json", "slack"]),
                        }
                    ),
                    "reminder": window,
                }
            ),
            "metrics": obj(
                {
                    "pushgateway": obj({"url": s(pattern=r"^(https?://.+)?$")}),
                    "prometheusRule": obj(
                        {
                            "enabled": b(),
                            "labels": string_map(),
                            "errorRatio": n(exclusiveMinimum=0, maximum=1),
                            "p99LatencySeconds": n(exclusiveMinimum=0),
                            "driftStaleSeconds": i(minimum=60),
                        }
                    ),
                    "grafanaDashboard": obj(
                        {
                            "enabled": b(),
                            "label": s(minLength=1),
                            "labelValue": s(),
                            "folder": s(),
                        }
                    ),
                }
            ),
            "job": obj(
                {
                    "concurrencyPolicy": s(enum=["Forbid", "Replace", "Allow"]),
                    "startingDeadlineSeconds": i(minimum=10),
                    "activeDeadlineSeconds": i(minimum=60),
                    "backoffLimit": i(minimum=0),
                    "ttlSecondsAfterFinished": i(minimum=0),
                    "successfulJobsHistoryLimit": i(minimum=0),
                    "failedJobsHistoryLimit": i(minimum=0),
                    "suspend": b(),
                }
            ),
            "resourcesPreset": s(enum=PRESETS),
            "resources": resources(),
            "podAnnotations": string_map(),
            "podLabels": string_map(),
            **scheduling(),
            "serviceAccount": obj({"annotations": string_map()}),
            "networkPolicy": obj(
                {
                    "mlflowNamespaces": arr(s(minLength=1)),
                    "mlflowPort": i(minimum=1, maximum=65535),
                    "pushgatewayNamespaces": arr(s(minLength=1)),
                    "pushgatewayPort": i(minimum=1, maximum=65535),
                    "webhookCIDRs": arr(s(pattern=CIDR_PATTERN)),
                }
            ),
            "retrain": obj(
                {
                    "enabled": b("Run `spam-platform retrain` after a drift run"),
                    "track": s("The track whose CronJob retrains", enum=["staging", "production"]),
                    "dryRun": b(),
                    "image": image(),
                    "kfp": obj(
                        {
                            "host": s("KFP API endpoint", pattern=r"^(https?://.+)?$"),
                            "experiment": s(minLength=1),
                            "namespace": s(),
                            "authenticate": b("Send a projected ServiceAccount token"),
                            "arguments": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": ["string", "number", "integer", "boolean"]
                                },
                                "description": "Pipeline parameters of the run",
                            },
                        }
                    ),
                    "policy": obj(
                        {
                            "driftEnvironments": arr(
                                s(enum=["staging", "production"]), uniqueItems=True
                            ),
                            "driftMaxAge": window,
                            "requireDrift": b(),
                            "minFeedbackRows": i(minimum=0),
                            "maxModelAge": s(
                                "Age that triggers; off: never",
                                pattern=r"^([1-9][0-9]*[smhdw]|off)$",
                            ),
                            "cooldown": s(pattern=r"^[0-9]+[smhdw]$"),
                        }
                    ),
                    "feedbackLogUrl": s("Feedback-log location; empty: abfs://<logsContainer>/…"),
                    "decisionsUrl": s("Decision records; empty: abfs://<logsContainer>/…"),
                    "resourcesPreset": s(enum=PRESETS),
                    "resources": resources(),
                    "networkPolicy": obj(
                        {
                            "kfpNamespaces": arr(s(minLength=1)),
                            "kfpPort": i(minimum=1, maximum=65535),
                        }
                    ),
                }
            ),
        },
        "spam-platform drift values",
    )


def umbrella() -> Schema:
    version = {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": r"^([1-9][0-9]*)?$"},
        ],
        "description": "A registered model version (1, 2, ...); empty until set at install",
    }
    container = s("Azure Blob container", pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    guid = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    shared = obj(
        {
            "environment": s("The installation's environment", enum=["staging", "production"]),
            "imageRegistry": s(),
            "imageTag": {"type": ["string", "number"]},
            "imagePullSecrets": arr(s(minLength=1), "Names of existing pull Secrets"),
            "model": obj(
                {
                    "name": s(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=63),
                    "tracks": obj(
                        {
                            "staging": obj({"version": version}),
                            "production": obj({"version": version}),
                        }
                    ),
                }
            ),
            "storage": obj(
                {
                    "accountName": s(
                        "3-24 lowercase letters and digits", pattern="^([a-z0-9]{3,24})?$"
                    ),
                    "modelsContainer": container,
                    "logsContainer": container,
                    "datasetsContainer": container,
                }
            ),
            "mlflow": obj({"trackingUri": s(pattern=r"^(https?://.+)?$")}),
            "redis": obj(
                {
                    "host": s(),
                    "port": i(minimum=1, maximum=65535),
                    "tls": b(),
                    "timeoutSeconds": n(exclusiveMinimum=0, maximum=30),
                    "existingSecret": s(),
                    "passwordKey": s(minLength=1),
                }
            ),
            "feast": obj(
                {
                    "project": s(pattern=r"^[A-Za-z0-9_]+$"),
                    "registryPath": s(),
                    "entityKeySerializationVersion": i(minimum=1),
                },
                desc="Feast repository of the transformer and the Ray batch pods",
            ),
            "azure": obj({"workloadIdentity": obj({"clientId": s(pattern=guid)})}),
            "serving": obj(
                {
                    "deploymentMode": s(enum=["Knative", "Standard"]),
                    "protocol": s(enum=["grpc", "http"]),
                }
            ),
            "networkPolicy": obj(
                {
                    "enabled": b(),
                    "dnsNamespace": s(minLength=1),
                    "azureCIDRs": arr(s(pattern=CIDR_PATTERN), minItems=1),
                    "redisCIDRs": arr(s(pattern=CIDR_PATTERN), minItems=1),
                    "knativeNamespaces": arr(s(minLength=1)),
                }
            ),
            "tests": obj({"image": image(pull_policy=False)}),
        },
        desc="Values shared with every subchart",
    )

    def component(what: str) -> Schema:
        return {
            "type": "object",
            "description": f"{what} (the rest is validated by the subchart's schema)",
            "properties": {"enabled": b()},
            "required": ["enabled"],
        }

    schema = obj(
        {
            "global": shared,
            "spam-common": {"type": "object", "description": "Added by Helm for the library"},
            "gateway": component("The API gateway"),
            "transformer": component("The feature transformer"),
            "inference": component("The Triton InferenceServices"),
            "batch": component("KubeRay batch scoring"),
            "drift": component("The drift CronJobs and the platform's alerts and dashboard"),
        },
        required=["global", *SUBCHARTS],
        desc="spam-platform umbrella chart values",
    )
    # The gateway's async batch endpoint submits RayJobs to the batch chart's RayCluster.
    schema["if"] = {
        "properties": {
            "gateway": {
                "properties": {
                    "enabled": {"const": True},
                    "asyncBatch": {"properties": {"enabled": {"const": True}}},
                },
                "required": ["asyncBatch"],
            }
        }
    }
    schema["then"] = {
        "properties": {
            "batch": {
                "properties": {
                    "enabled": {
                        "const": True,
                        "description": "gateway.asyncBatch.enabled needs batch.enabled",
                    }
                }
            }
        }
    }
    return schema


def build_all() -> dict[Path, str]:
    """Every schema file and its content."""
    builders = {
        CHART: umbrella,
        **{CHART / "charts" / name: globals()[name] for name in SUBCHARTS},
    }
    out = {}
    for chart_dir, build in builders.items():
        doc = {"$schema": "http://json-schema.org/draft-07/schema#", **build()}
        out[chart_dir / "values.schema.json"] = json.dumps(doc, indent=2) + "\n"
    return out


def main(argv: list[str]) -> int:
    stale = []
    for path, content in build_all().items():
        if "--check" in argv:
            if not path.exists() or path.read_text() != content:
                stale.append(path)
        else:
            path.write_text(content)
    for path in stale:
        print(f"stale: {path} (run: uv run python charts/hack/schemas.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
