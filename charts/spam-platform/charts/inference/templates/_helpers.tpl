{{/*
Inference helpers and value checks.
*/}}

{{/*
Name of the runtime both InferenceServices use: the chart's own ServingRuntime, an existing
one, or nothing (KServe selects its Triton runtime from modelFormat triton).
Usage: {{ include "inference.runtimeName" . }}
*/}}
{{- define "inference.runtimeName" -}}
{{- if .Values.servingRuntime.create -}}
{{- include "spam-common.names.component" (dict "component" "triton" "context" .) -}}
{{- else -}}
{{- .Values.servingRuntime.existing -}}
{{- end -}}
{{- end -}}

{{/*
The storageUri of a track: the override, else the trainer's layout for the track's version.
Usage: {{ include "inference.storageUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "inference.storageUri" -}}
{{- $t := index .context.Values.tracks .track -}}
{{- $t.storageUri | default (include "spam-common.model.storageUri" .) -}}
{{- end -}}

{{/*
Triton runs as the NVIDIA image's own non-root user.
ref: https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/customization_guide/deploy.html#run-as-a-non-root-user
*/}}
{{- define "inference.tritonUid" -}}1000{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "inference.validateValues" . }}
*/}}
{{- define "inference.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "inference.validateValues.runtime" .)
  (include "inference.validateValues.tracks" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "inference" "messages" $messages) -}}
{{- end -}}

{{- define "inference.validateValues.runtime" -}}
{{- if and .Values.servingRuntime.create .Values.servingRuntime.existing -}}
inference.servingRuntime.create and inference.servingRuntime.existing are mutually exclusive: create the pinned runtime or name an existing one.
{{- end -}}
{{- end -}}

{{- define "inference.validateValues.tracks" -}}
{{- $messages := list -}}
{{- $standard := eq .Values.global.serving.deploymentMode "Standard" -}}
{{- range $name := list "staging" "production" -}}
{{- $t := index $.Values.tracks $name -}}
{{- if gt (int $t.minReplicas) (int $t.maxReplicas) -}}
{{- $messages = append $messages (printf "inference.tracks.%s: minReplicas (%v) is above maxReplicas (%v)." $name $t.minReplicas $t.maxReplicas) -}}
{{- end -}}
{{- if and $standard (ne (toString $t.canaryTrafficPercent) "") -}}
{{- $messages = append $messages (printf "inference.tracks.%s.canaryTrafficPercent needs global.serving.deploymentMode=Knative (KServe splits traffic between revisions only with Knative)." $name) -}}
{{- end -}}
{{- if and $standard (eq (int $t.minReplicas) 0) -}}
{{- $messages = append $messages (printf "inference.tracks.%s.minReplicas=0 (scale to zero) needs global.serving.deploymentMode=Knative." $name) -}}
{{- end -}}
{{- end -}}
{{- if eq (int .Values.tracks.production.minReplicas) 0 -}}
{{- $messages = append $messages "inference.tracks.production.minReplicas: the production track must not scale to zero (at least 1; 2 recommended)." -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}
