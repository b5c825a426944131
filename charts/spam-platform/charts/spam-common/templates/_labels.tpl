{{/*
Kubernetes recommended labels for every object.
"component" (optional) sets app.kubernetes.io/component; "name" (optional) replaces
app.kubernetes.io/name (test pods use "<chart>-test" so no Service or Deployment selector
ever matches them); "workloadIdentity" (optional, pod templates only) adds the Azure workload
identity opt-in label when global.azure.workloadIdentity.clientId is set; "extra" (optional) is a
map of additional labels (podLabels) merged last.
Usage: {{ include "spam-common.labels.standard" (dict "component" "api" "extra" .Values.podLabels "workloadIdentity" true "context" $) }}
*/}}
{{- define "spam-common.labels.standard" -}}
{{- $ctx := .context -}}
{{- include "spam-common.requireUmbrella" $ctx -}}
app.kubernetes.io/name: {{ .name | default (include "spam-common.names.name" $ctx) }}
app.kubernetes.io/instance: {{ $ctx.Release.Name | quote }}
app.kubernetes.io/part-of: spam-platform
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ include "spam-common.names.chart" $ctx }}
spam-platform/environment: {{ $ctx.Values.global.environment | quote }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- if and .workloadIdentity $ctx.Values.global.azure.workloadIdentity.clientId }}
azure.workload.identity/use: "true"
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels: only name and instance. Deployment and PodDisruptionBudget selectors are
immutable, so they must not contain anything that changes between upgrades (chart version,
app version, environment); name + instance identify a component of a release uniquely.
Usage: {{ include "spam-common.labels.matchLabels" (dict "context" $) }}
*/}}
{{- define "spam-common.labels.matchLabels" -}}
app.kubernetes.io/name: {{ include "spam-common.names.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name | quote }}
{{- end -}}

{{/*
Labels that select every pod of the release, whichever chart created it (NetworkPolicies).
Usage: {{ include "spam-common.labels.releasePods" (dict "context" $) }}
*/}}
{{- define "spam-common.labels.releasePods" -}}
app.kubernetes.io/instance: {{ .context.Release.Name | quote }}
app.kubernetes.io/part-of: spam-platform
{{- end -}}

{{/*
Selector labels of another spam-platform chart's pods (NetworkPolicy peers).
Usage: {{ include "spam-common.labels.peer" (dict "name" "transformer" "context" $) }}
*/}}
{{- define "spam-common.labels.peer" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .context.Release.Name | quote }}
{{- end -}}
