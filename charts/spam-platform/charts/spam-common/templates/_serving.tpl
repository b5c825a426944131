{{/*
How the transformer reaches a track's predictor.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
Host of a track's predictor Service, created by KServe as "<isvc>-predictor".
Usage: {{ include "spam-common.serving.predictorHost" (dict "track" "staging" "context" $) }}
*/}}
{{- define "spam-common.serving.predictorHost" -}}
{{- printf "%s-predictor.%s.svc.cluster.local" (include "spam-common.names.inferenceService" .) (include "spam-common.names.namespace" .context) -}}
{{- end -}}

{{/*
Port of the predictor Service for global.serving.protocol:
- Knative: one port per revision (Knative routes a single container port), always 80;
  the container port is h2c (gRPC) or http1 depending on the protocol.
- Standard: KServe maps the first container port (HTTP, 8080) to 80 and exposes every further
  port under its own number, so gRPC is 9000.
Usage: {{ include "spam-common.serving.predictorPort" (dict "context" $) }}
*/}}
{{- define "spam-common.serving.predictorPort" -}}
{{- $s := .context.Values.global.serving -}}
{{- if and (eq $s.deploymentMode "Standard") (eq $s.protocol "grpc") -}}
9000
{{- else -}}
80
{{- end -}}
{{- end -}}

{{/*
"host:port" of a track's predictor, no scheme (what tritonclient's gRPC and HTTP clients take).
Usage: {{ include "spam-common.serving.predictorAddress" (dict "track" "staging" "context" $) }}
*/}}
{{- define "spam-common.serving.predictorAddress" -}}
{{- printf "%s:%s" (include "spam-common.serving.predictorHost" .) (include "spam-common.serving.predictorPort" (dict "context" .context)) -}}
{{- end -}}
