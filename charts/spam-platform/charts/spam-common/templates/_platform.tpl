{{/*
The platform contract every chart must agree on: where a track's model lives, how the
transformer reaches a track's predictor, Azure workload identity, and the checks on the
shared `global` values. Keeping them here means the gateway, transformer and inference charts
cannot drift apart (one model-version key drives the ISVC, the transformer's features and the
gateway's reported version).
*/}}

{{/*
The model version of a track, as a string ("3").
Usage: {{ include "spam-common.model.version" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.version" -}}
{{- $tracks := .context.Values.global.model.tracks -}}
{{- $track := index $tracks .track | default dict -}}
{{- $track.version | toString -}}
{{- end -}}

{{/*
The folder the trainer publishes for a track's model version:
https://<account>.blob.core.windows.net/<modelsContainer>/<modelName>/v<version>
Usage: {{ include "spam-common.model.baseUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.baseUri" -}}
{{- $g := .context.Values.global -}}
{{- printf "https://%s.blob.core.windows.net/%s/%s/v%s" $g.storage.accountName $g.storage.modelsContainer $g.model.name (include "spam-common.model.version" .) -}}
{{- end -}}

{{/*
The Triton model repository root of a track (holds <modelName>/config.pbtxt and
<modelName>/1/model.onnx): the InferenceService storageUri.
Usage: {{ include "spam-common.model.storageUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.storageUri" -}}
{{- printf "%s/triton" (include "spam-common.model.baseUri" .) -}}
{{- end -}}

{{/*
The fitted feature artifacts of a track's model version (read by the transformer).
Usage: {{ include "spam-common.model.featuresUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.featuresUri" -}}
{{- printf "%s/features.json" (include "spam-common.model.baseUri" .) -}}
{{- end -}}

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

{{/*
Azure workload identity: pods that read or write Blob storage carry the opt-in label
(spam-common.labels.standard with "workloadIdentity" true) and run under a ServiceAccount
annotated with the managed identity's client id; the webhook then injects a federated token,
so no storage key exists anywhere. Nothing is added without global.azure.workloadIdentity.clientId.
*/}}

{{/*
ServiceAccount annotations for Azure workload identity, merged with extra annotations. A
client id set explicitly in the extra annotations wins over the global one: one identity per
workload, each with only its own role assignments (terraform/base-infra creates them).
Usage: {{- with include "spam-common.azure.serviceAccountAnnotations" (dict "annotations" .Values.serviceAccount.annotations "context" $) }}{{ . | nindent 2 }}{{ end }}
*/}}
{{- define "spam-common.azure.serviceAccountAnnotations" -}}
{{- $annotations := .annotations | default dict | deepCopy -}}
{{- with .context.Values.global.azure.workloadIdentity.clientId -}}
{{- if not (hasKey $annotations "azure.workload.identity/client-id") -}}
{{- $_ := set $annotations "azure.workload.identity/client-id" . -}}
{{- end -}}
{{- end -}}
{{- with $annotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
topologySpreadConstraints with the component's selector filled in: an entry without a
labelSelector spreads the pods of this component (values files cannot know the selector).
Usage: {{- with include "spam-common.scheduling.topologySpreadConstraints" (dict "constraints" .Values.topologySpreadConstraints "matchLabels" (include "spam-common.labels.matchLabels" (dict "context" $))) }}{{ . | nindent 6 }}{{ end }}
*/}}
{{- define "spam-common.scheduling.topologySpreadConstraints" -}}
{{- if .constraints -}}
topologySpreadConstraints:
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (fromYaml $.matchLabels)) }}
{{- end }}
  - {{ toYaml $c | nindent 4 | trim }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
Egress rule to Azure Storage (Blob, and Entra ID for the workload identity token exchange):
TCP 443 to global.networkPolicy.azureCIDRs.
Usage: {{- include "spam-common.networkPolicy.azureEgress" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.azureEgress" -}}
- to:
  {{- range .context.Values.global.networkPolicy.azureCIDRs }}
    - ipBlock:
        cidr: {{ . }}
  {{- end }}
  ports:
    - protocol: TCP
      port: 443
{{- end -}}

{{/*
Peers that front the KServe predictors in Knative mode (activator, local gateway): every pod in
global.networkPolicy.knativeNamespaces.
Usage: {{- include "spam-common.networkPolicy.knativePeers" (dict "context" $) | nindent 8 }}
*/}}
{{- define "spam-common.networkPolicy.knativePeers" -}}
{{- $peers := list -}}
{{- range .context.Values.global.networkPolicy.knativeNamespaces -}}
{{- $peers = append $peers (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .))) -}}
{{- end -}}
{{- toYaml $peers -}}
{{- end -}}

{{/*
Egress rule to both tracks' predictors, for the transformer and the Triton test pods.
Knative: the local gateway / activator namespaces (the predictor Service is an ExternalName
to them); Standard: the predictor pods themselves on HTTP 8080 and gRPC 9000.
Usage: {{- include "spam-common.networkPolicy.predictorEgress" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.predictorEgress" -}}
{{- if eq .context.Values.global.serving.deploymentMode "Knative" -}}
- to:
    {{- include "spam-common.networkPolicy.knativePeers" . | nindent 4 }}
{{- else -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "spam-common.labels.peer" (dict "name" "inference" "context" .context) | nindent 10 }}
          app.kubernetes.io/component: predictor
  ports:
    - protocol: TCP
      port: 8080
    - protocol: TCP
      port: 9000
{{- end -}}
{{- end -}}

{{/*
Fail with a clear message when a subchart is rendered without the umbrella's `global` values
(`helm template charts/spam-platform/charts/gateway`): the subcharts are only installable
through charts/spam-platform. Called before the first use of `global` in every template.
Usage: {{- include "spam-common.requireUmbrella" . }}
*/}}
{{- define "spam-common.requireUmbrella" -}}
{{- $g := .Values.global | default dict -}}
{{- if not (and $g.model $g.storage $g.serving $g.networkPolicy $g.azure $g.tests) -}}
{{- printf "%s: the global values of the spam-platform umbrella chart are missing; install charts/spam-platform (its values.yaml defines global), not the subchart alone" .Chart.Name | fail -}}
{{- end -}}
{{- end -}}

{{/*
Checks on the shared `global` values, one message per problem (empty string when fine).
Every chart's <chart>.validateValues includes it, so a subchart cannot render against
incomplete globals.
Usage: {{ include "spam-common.validateValues.global" (dict "context" $) }}
*/}}
{{- define "spam-common.validateValues.global" -}}
{{- $g := .context.Values.global -}}
{{- $messages := list -}}
{{- if not (has $g.environment (list "staging" "production")) -}}
{{- $messages = append $messages (printf "global.environment: %q is not an environment; use staging or production." (toString $g.environment)) -}}
{{- end -}}
{{- if not $g.model.name -}}
{{- $messages = append $messages "global.model.name: required (the registered model, also the Triton model name), e.g. spam-detector." -}}
{{- end -}}
{{- range $track := list "staging" "production" -}}
{{- if not (include "spam-common.model.version" (dict "track" $track "context" $.context)) -}}
{{- $messages = append $messages (printf "global.model.tracks.%s.version: required (the model version the %s track serves), e.g. --set global.model.tracks.%s.version=3" $track $track $track) -}}
{{- end -}}
{{- end -}}
{{- if not $g.storage.accountName -}}
{{- $messages = append $messages "global.storage.accountName: required (the Azure Storage account holding models, logs and datasets), e.g. --set global.storage.accountName=stspamprod" -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}

{{/*
Fail once with every message (bitnami style): "messages" is a list of strings, empty ones ignored.
Usage: {{- include "spam-common.validateValues.fail" (dict "chart" "gateway" "messages" $messages) }}
*/}}
{{- define "spam-common.validateValues.fail" -}}
{{- $lines := list -}}
{{- range .messages -}}
{{- range splitList "\n" . -}}
{{- if . }}{{ $lines = append $lines (printf "  - %s" .) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if $lines -}}
{{- printf "\n%s: invalid values:\n%s" .chart (join "\n" $lines) | fail -}}
{{- end -}}
{{- end -}}
