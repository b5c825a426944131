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
The ConfigMap holding feature_store.yaml, and where it is mounted.
*/}}
{{- define "transformer.feastConfigMapName" -}}
{{- include "spam-common.names.component" (dict "component" "transformer-feast" "context" .) -}}
{{- end -}}
{{- define "transformer.feastRepoPath" -}}/etc/spam-platform/feast{{- end -}}

{{/*
The Feast registry location.
Usage: {{ include "transformer.feastRegistryPath" . }}
*/}}
{{- define "transformer.feastRegistryPath" -}}
{{- $g := .Values.global -}}
{{- .Values.feast.registryPath | default (printf "https://%s.blob.core.windows.net/%s/feast/registry.db" $g.storage.accountName $g.storage.datasetsContainer) -}}
{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "transformer.validateValues" . }}
*/}}
{{- define "transformer.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "transformer.validateValues.redis" .)
  (include "spam-common.validateValues.pdb" (dict "chart" "transformer" "context" .))
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "transformer" "messages" $messages) -}}
{{- end -}}

{{- define "transformer.validateValues.redis" -}}
{{- $r := .Values.global.redis -}}
{{- $messages := list -}}
{{- if not $r.host -}}
{{- $messages = append $messages "global.redis.host: required by the transformer (the Feast online store), e.g. --set global.redis.host=redis-spam.redis.cache.windows.net" -}}
{{- end -}}
{{- if not $r.existingSecret -}}
{{- $messages = append $messages "global.redis.existingSecret: required by the transformer (an existing Secret with the Redis password); the chart never takes the password itself" -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}
