{{/*
Resource presets, smallest to largest. Limits are 1.5x the requests (memory limit = request
for the larger sizes would starve bursts; CPU is throttled, not killed).
Presets are meant for staging and development; production sets `resources` explicitly.
An unknown preset fails and lists the allowed ones.
Usage: {{ include "spam-common.resources.preset" (dict "type" "small") }}
*/}}
{{- define "spam-common.resources.preset" -}}
{{- $presets := dict
  "nano" (dict
      "requests" (dict "cpu" "100m" "memory" "128Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "150m" "memory" "192Mi" "ephemeral-storage" "2Gi"))
  "micro" (dict
      "requests" (dict "cpu" "250m" "memory" "256Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "375m" "memory" "384Mi" "ephemeral-storage" "2Gi"))
  "small" (dict
      "requests" (dict "cpu" "500m" "memory" "512Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "750m" "memory" "768Mi" "ephemeral-storage" "2Gi"))
  "medium" (dict
      "requests" (dict "cpu" "500m" "memory" "1024Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "750m" "memory" "1536Mi" "ephemeral-storage" "2Gi"))
  "large" (dict
      "requests" (dict "cpu" "1" "memory" "2048Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "1.5" "memory" "3072Mi" "ephemeral-storage" "2Gi"))
  "xlarge" (dict
      "requests" (dict "cpu" "1" "memory" "3072Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "3" "memory" "6144Mi" "ephemeral-storage" "2Gi"))
  "2xlarge" (dict
      "requests" (dict "cpu" "1" "memory" "3072Mi" "ephemeral-storage" "50Mi")
      "limits" (dict "cpu" "6" "memory" "12288Mi" "ephemeral-storage" "2Gi"))
-}}
{{- if hasKey $presets .type -}}
{{- index $presets .type | toYaml -}}
{{- else -}}
{{- printf "resources preset %q is not one of: %s" .type (join ", " (list "nano" "micro" "small" "medium" "large" "xlarge" "2xlarge")) | fail -}}
{{- end -}}
{{- end -}}

{{/*
A container's resources: explicit `resources` win; otherwise the preset.
Usage: resources: {{- include "spam-common.resources" (dict "resources" .Values.resources "preset" .Values.resourcesPreset) | nindent 12 }}
*/}}
{{- define "spam-common.resources" -}}
{{- if .resources -}}
{{- toYaml .resources -}}
{{- else -}}
{{- include "spam-common.resources.preset" (dict "type" .preset) -}}
{{- end -}}
{{- end -}}
