{{/*
User feedback (POST /feedback, README "User feedback") and its scheduled materialization.
The gateway and the materialize CronJob read the same settings: one ConfigMap
(configmap-feedback.yaml) and the same feature_store.yaml (configmap-feast.yaml, rendered by
spam-common from global.feast and global.redis like the transformer's and the Ray pods').
*/}}

{{/*
Whether the materialize CronJob renders: feedback on and feedback.materialize.enabled.
Usage: {{- if include "gateway.materialize.enabled" . }}
*/}}
{{- define "gateway.materialize.enabled" -}}
{{- if and .Values.feedback.enabled .Values.feedback.materialize.enabled }}true{{ end -}}
{{- end -}}

{{/*
The feedback log (SPAM_GATEWAY_FEEDBACK_LOG_URL): feedback.logUrl, else next to the inference
log in global.storage.logsContainer.
Usage: {{ include "gateway.feedback.logUrl" . }}
*/}}
{{- define "gateway.feedback.logUrl" -}}
{{- .Values.feedback.logUrl | default (printf "abfs://%s/feedback-logs" .Values.global.storage.logsContainer) -}}
{{- end -}}

{{/*
The ConfigMap holding the feedback settings: "<base>-gateway-feedback".
*/}}
{{- define "gateway.feedback.configMapName" -}}
{{- include "spam-common.names.component" (dict "component" "gateway-feedback" "context" .) -}}
{{- end -}}

{{/*
The materialize CronJob, its ServiceAccount and NetworkPolicy: "<base>-gateway-materialize".
Its pods carry app.kubernetes.io/name "gateway-materialize", so neither the gateway Service,
its PodDisruptionBudget nor its NetworkPolicy select them.
*/}}
{{- define "gateway.materialize.name" -}}
{{- include "spam-common.names.component" (dict "component" "gateway-materialize" "context" .) -}}
{{- end -}}
{{- define "gateway.materialize.labelName" -}}gateway-materialize{{- end -}}

{{/*
Selector labels of the materialize pods (NetworkPolicy).
Usage: {{- include "gateway.materialize.matchLabels" . | nindent 6 }}
*/}}
{{- define "gateway.materialize.matchLabels" -}}
{{- include "spam-common.labels.peer" (dict "name" (include "gateway.materialize.labelName" .) "context" .) -}}
{{- end -}}

{{/*
What a feedback-enabled container adds: the feedback settings, the Redis password (Feast
expands ${SPAM_REDIS_CONNECTION_STRING} in feature_store.yaml) and the repository mount.
Usage: envFrom: {{- include "gateway.feedback.envFrom" . | nindent 12 }}
       env: {{- include "spam-common.redis.env" (dict "context" $) | nindent 12 }}
*/}}
{{- define "gateway.feedback.envFrom" -}}
- configMapRef:
    name: {{ include "gateway.feedback.configMapName" . }}
{{- end -}}

{{/*
CKV_K8S_35 while the Redis password reaches a container as an environment variable: Feast
expands the connection string from the environment only.
*/}}
{{- define "gateway.feedback.checkovRedisSkip" -}}
CKV_K8S_35=Feast expands the Redis connection string from an environment variable only (${SPAM_REDIS_CONNECTION_STRING} in feature_store.yaml); the password comes from an existing Secret, never from values
{{- end -}}

{{/*
Checks of the feedback values (only while feedback.enabled).
*/}}
{{- define "gateway.validateValues.feedback" -}}
{{- if .Values.feedback.enabled -}}
{{ include "spam-common.validateValues.redis" (dict "component" "gateway.feedback.enabled (the Feast online store the reports update)" "context" .) }}
{{ include "spam-common.validateValues.feast" (dict "context" .) }}
{{- end -}}
{{- end -}}
