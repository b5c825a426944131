{{/*
Gateway helpers: thin wrappers over spam-common plus the gateway's value checks.
*/}}

{{/*
The gateway image.
Usage: {{ include "gateway.image" . }}
*/}}
{{- define "gateway.image" -}}
{{- include "spam-common.images.image" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{/*
The gateway ServiceAccount name (spam-common.serviceAccount names it after the chart). Not
configurable: the batch chart's RoleBinding binds it by this name.
Usage: {{ include "gateway.serviceAccountName" . }}
*/}}
{{- define "gateway.serviceAccountName" -}}
{{- include "spam-common.names.fullname" . -}}
{{- end -}}

{{/*
Whether the gateway pod mounts an API token: only when it submits RayJobs.
Usage: {{ include "gateway.automountToken" . }}
*/}}
{{- define "gateway.automountToken" -}}
{{- if .Values.asyncBatch.enabled }}true{{ else }}false{{ end -}}
{{- end -}}

{{/*
Model track answered when a request has no X-Environment header.
Usage: {{ include "gateway.defaultEnvironment" . }}
*/}}
{{- define "gateway.defaultEnvironment" -}}
{{- .Values.defaultEnvironment | default .Values.global.environment -}}
{{- end -}}

{{/*
Mount path of the API keys file and of the RayJob template.
*/}}
{{- define "gateway.apiKeysDir" -}}/var/run/secrets/spam-platform/api-keys{{- end -}}
{{- define "gateway.rayJobTemplateDir" -}}/etc/spam-platform/batch{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "gateway.validateValues" . }}
*/}}
{{- define "gateway.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "gateway.validateValues.apiKeys" .)
  (include "gateway.validateValues.exposure" .)
  (include "spam-common.validateValues.pdb" (dict "chart" "gateway" "context" .))
  (include "gateway.validateValues.defaultEnvironment" .)
  (include "gateway.validateValues.feedback" .)
  (include "gateway.validateValues.cors" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "gateway" "messages" $messages) -}}
{{- end -}}

{{- define "gateway.validateValues.apiKeys" -}}
{{- if not .Values.apiKeys.existingSecret -}}
gateway.apiKeys.existingSecret: required (an existing Secret with `api-keys.json`, the hashed API keys, and `test-api-key`); the chart never creates it, e.g. --set gateway.apiKeys.existingSecret=spam-platform-api-keys
{{- end -}}
{{- end -}}

{{- define "gateway.validateValues.exposure" -}}
{{- if and .Values.ingress.enabled .Values.istio.virtualService.enabled -}}
gateway.ingress.enabled and gateway.istio.virtualService.enabled are mutually exclusive: expose the gateway one way.
{{- else if and .Values.ingress.enabled (not .Values.ingress.host) -}}
gateway.ingress.host: required when gateway.ingress.enabled is true.
{{- else if and .Values.istio.virtualService.enabled (or (not .Values.istio.virtualService.hosts) (not .Values.istio.virtualService.gateways)) -}}
gateway.istio.virtualService.hosts and .gateways: required when gateway.istio.virtualService.enabled is true.
{{- end -}}
{{- end -}}

{{- define "gateway.validateValues.defaultEnvironment" -}}
{{- with .Values.defaultEnvironment -}}
{{- if not (has . (list "staging" "production")) -}}
gateway.defaultEnvironment: {{ . | quote }} is not a model track; use staging, production or "".
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gateway.validateValues.cors" -}}
{{- if and (has "*" .Values.cors.allowedOrigins) .Values.cors.allowCredentials -}}
gateway.cors.allowedOrigins "*" with gateway.cors.allowCredentials would let any web site call the API with the visitor's credentials: list the allowed origins.
{{- else if and (has "*" .Values.cors.allowedOrigins) (gt (len .Values.cors.allowedOrigins) 1) -}}
gateway.cors.allowedOrigins: "*" allows every origin; give it alone or list the origins.
{{- end -}}
{{- end -}}
