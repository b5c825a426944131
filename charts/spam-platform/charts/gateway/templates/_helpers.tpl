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
  (include "spam-common.validateValues.autoscaling" (dict "chart" "gateway" "context" .))
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
{{- if and .Values.ingress.enabled .Values.istio.enabled -}}
gateway.ingress.enabled and gateway.istio.enabled are mutually exclusive: expose the gateway one way.
{{- else if and .Values.ingress.enabled (not .Values.ingress.host) -}}
gateway.ingress.host: required when gateway.ingress.enabled is true.
{{- else if and .Values.istio.enabled (not .Values.istio.hosts) -}}
gateway.istio.hosts: required when gateway.istio.enabled is true (the API host names).
{{- else if and .Values.istio.enabled (not .Values.istio.gateway.create) (not .Values.istio.gateway.existing) -}}
gateway.istio.gateway.existing: required when gateway.istio.gateway.create is false (the Gateways to bind to).
{{- end -}}
{{- end -}}

{{/*
The Istio Gateways the VirtualService binds to: the chart's own, or the existing ones.
Usage: {{ include "gateway.istio.gateways" . }}
*/}}
{{- define "gateway.istio.gateways" -}}
{{- if .Values.istio.gateway.create -}}
- {{ include "spam-common.names.fullname" . }}
{{- else -}}
{{- toYaml .Values.istio.gateway.existing -}}
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

{{/*
The gateway Service's cluster-local host name (Istio destinations).
Usage: {{ include "gateway.serviceHost" . }}
*/}}
{{- define "gateway.serviceHost" -}}
{{- printf "%s.%s.svc.cluster.local" (include "spam-common.names.fullname" .) (include "spam-common.names.namespace" .) -}}
{{- end -}}
