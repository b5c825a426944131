{{/*
Objects every Deployment-based component renders the same way. Each reads the calling chart's
.Values (autoscaling.*, pdb.*, serviceAccount.annotations) and names the objects after it.
*/}}

{{/*
HorizontalPodAutoscaler (autoscaling/v2) for the chart's Deployment (when autoscaling.enabled):
average CPU, optionally requests per second per pod (a Pods metric served by Prometheus
Adapter from the component's request counter), and the scale-up / scale-down behaviour.
Usage: {{ include "spam-common.hpa" (dict "component" "api" "context" $) }}
*/}}
{{- define "spam-common.hpa" -}}
{{- $ctx := .context -}}
{{- $a := $ctx.Values.autoscaling -}}
{{- if $a.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "spam-common.names.fullname" $ctx }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" .component "context" $ctx) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "spam-common.names.fullname" $ctx }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- if $a.requestsPerSecond.enabled }}
    # requests per second per pod, from Prometheus Adapter (custom.metrics.k8s.io)
    - type: Pods
      pods:
        metric:
          name: {{ $a.requestsPerSecond.metricName }}
        target:
          type: AverageValue
          averageValue: {{ $a.requestsPerSecond.averageValue | quote }}
    {{- end }}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: {{ $a.behavior.scaleUp.stabilizationWindowSeconds }}
      selectPolicy: Max
      policies:
        - type: Percent
          value: {{ $a.behavior.scaleUp.percent }}
          periodSeconds: {{ $a.behavior.scaleUp.periodSeconds }}
        - type: Pods
          value: {{ $a.behavior.scaleUp.pods }}
          periodSeconds: {{ $a.behavior.scaleUp.periodSeconds }}
    scaleDown:
      stabilizationWindowSeconds: {{ $a.behavior.scaleDown.stabilizationWindowSeconds }}
      selectPolicy: Min
      policies:
        - type: Percent
          value: {{ $a.behavior.scaleDown.percent }}
          periodSeconds: {{ $a.behavior.scaleDown.periodSeconds }}
        - type: Pods
          value: {{ $a.behavior.scaleDown.pods }}
          periodSeconds: {{ $a.behavior.scaleDown.periodSeconds }}
{{- end }}
{{- end -}}

{{/*
The autoscaling check, for <chart>.validateValues.
Usage: {{ include "spam-common.validateValues.autoscaling" (dict "chart" "gateway" "context" $) }}
*/}}
{{- define "spam-common.validateValues.autoscaling" -}}
{{- $a := .context.Values.autoscaling -}}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{ .chart }}.autoscaling.minReplicas ({{ $a.minReplicas }}) is above autoscaling.maxReplicas ({{ $a.maxReplicas }}).
{{- end -}}
{{- end -}}

{{/*
PodDisruptionBudget for the chart's Deployment (when pdb.create); maxUnavailable wins when set.
Usage: {{ include "spam-common.pdb" (dict "component" "api" "context" $) }}
*/}}
{{- define "spam-common.pdb" -}}
{{- $ctx := .context -}}
{{- if $ctx.Values.pdb.create }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "spam-common.names.fullname" $ctx }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" .component "context" $ctx) | nindent 4 }}
spec:
  {{- if ne (toString $ctx.Values.pdb.maxUnavailable) "" }}
  maxUnavailable: {{ $ctx.Values.pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ $ctx.Values.pdb.minAvailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "spam-common.labels.matchLabels" (dict "context" $ctx) | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
The chart's ServiceAccount, named like the chart. Tokens are not mounted by default; a pod
that needs the API opts in with automountServiceAccountToken on its spec.
A second workload of a chart that must not share the chart's identity (one identity per
workload) passes its own "name" and "annotations" (default: the chart's fullname and
.Values.serviceAccount.annotations). A workload that reads and writes nothing outside the
cluster passes "cloudIdentity" false: its ServiceAccount gets no global client id (only its own
annotations).
Usage: {{ include "spam-common.serviceAccount" (dict "component" "api" "context" $) }}
       {{ include "spam-common.serviceAccount" (dict "component" "feedback" "name" $name "annotations" .Values.feedback.materialize.serviceAccount.annotations "context" $) }}
*/}}
{{- define "spam-common.serviceAccount" -}}
{{- $ctx := .context -}}
{{- $annotations := ternary .annotations $ctx.Values.serviceAccount.annotations (hasKey . "annotations") -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name | default (include "spam-common.names.fullname" $ctx) }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" .component "context" $ctx) | nindent 4 }}
  {{- if ternary .cloudIdentity true (hasKey . "cloudIdentity") }}
  {{- with include "spam-common.azure.serviceAccountAnnotations" (dict "annotations" $annotations "context" $ctx) }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- else if $annotations }}
  annotations:
    {{- toYaml $annotations | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}

{{/*
The pdb mutual-exclusion check, for <chart>.validateValues.
Usage: {{ include "spam-common.validateValues.pdb" (dict "chart" "gateway" "context" $) }}
*/}}
{{- define "spam-common.validateValues.pdb" -}}
{{- $pdb := .context.Values.pdb -}}
{{- if and $pdb.create (ne (toString $pdb.minAvailable) "") (ne (toString $pdb.maxUnavailable) "") -}}
{{ .chart }}.pdb.minAvailable and {{ .chart }}.pdb.maxUnavailable are mutually exclusive: set one of them to "".
{{- end -}}
{{- end -}}
