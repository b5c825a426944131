{{/*
Umbrella helpers: the checks that span components, which no subchart can see on its own.
*/}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "spam-platform.validateValues" . }}
*/}}
{{- define "spam-platform.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "spam-platform.validateValues.components" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "spam-platform" "messages" $messages) -}}
{{- end -}}

{{- define "spam-platform.validateValues.components" -}}
{{- $messages := list -}}
{{- if and .Values.gateway.enabled (dig "asyncBatch" "enabled" false .Values.gateway) (not .Values.batch.enabled) -}}
{{- $messages = append $messages "gateway.asyncBatch.enabled needs batch.enabled (the gateway submits RayJobs to the batch RayCluster): enable batch or set gateway.asyncBatch.enabled=false." -}}
{{- end -}}
{{- $retrain := dig "retrain" dict .Values.drift -}}
{{- if and .Values.drift.enabled (dig "enabled" false $retrain) (dig "kfp" "tuningCluster" false $retrain) (not .Values.tuning.enabled) -}}
{{- $messages = append $messages "drift.retrain.kfp.tuningCluster needs tuning.enabled (the pipeline's trials run on the tuning chart's RayCluster): enable tuning or set drift.retrain.kfp.tuningCluster=false." -}}
{{- end -}}
{{- if and .Values.gateway.enabled (not .Values.transformer.enabled) -}}
{{- $messages = append $messages "gateway.enabled needs transformer.enabled (every prediction goes gateway -> transformer -> Triton)." -}}
{{- end -}}
{{- if and .Values.transformer.enabled (not .Values.inference.enabled) -}}
{{- $messages = append $messages "transformer.enabled needs inference.enabled (the transformer forwards to the Triton predictors)." -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}
