{{/*
Transformer helpers: thin wrappers over spam-common plus the transformer's value checks.
*/}}

{{/*
The transformer image.
Usage: {{ include "transformer.image" . }}
*/}}
{{- define "transformer.image" -}}
{{- include "spam-common.images.image" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "transformer.validateValues" . }}
*/}}
{{- define "transformer.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "spam-common.validateValues.redis" (dict "component" "the transformer" "context" .))
  (include "spam-common.validateValues.feast" (dict "context" .))
  (include "spam-common.validateValues.pdb" (dict "chart" "transformer" "context" .))
  (include "spam-common.validateValues.autoscaling" (dict "chart" "transformer" "context" .))
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "transformer" "messages" $messages) -}}
{{- end -}}
