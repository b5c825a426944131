{{/*
Drift helpers: thin wrappers over spam-common plus the drift chart's value checks.
*/}}

{{/*
The drift image.
Usage: {{ include "drift.image" . }}
*/}}
{{- define "drift.image" -}}
{{- include "spam-common.images.image" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{/*
Name of one track's CronJob: <fullname>-<track>.
Usage: {{ include "drift.cronJobName" (dict "environment" "production" "context" $) }}
*/}}
{{- define "drift.cronJobName" -}}
{{- printf "%s-%s" (include "spam-common.names.fullname" .context) .environment | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/*
The inference log the gateway writes (the gateway chart's SPAM_GATEWAY_INFERENCE_LOG_URL).
Usage: {{ include "drift.inferenceLogUrl" . }}
*/}}
{{- define "drift.inferenceLogUrl" -}}
{{- printf "abfs://%s/inference-logs" .Values.global.storage.logsContainer -}}
{{- end -}}

{{/*
Where the reports go.
Usage: {{ include "drift.reportsUrl" . }}
*/}}
{{- define "drift.reportsUrl" -}}
{{- .Values.reportsUrl | default (printf "abfs://%s/drift-reports" .Values.global.storage.logsContainer) -}}
{{- end -}}

{{/*
Environment of the drift container, the same for every track (the track comes as an argument).
Usage: env: {{- include "drift.env" . | nindent 16 }}
*/}}
{{- define "drift.env" -}}
- name: AZURE_STORAGE_ACCOUNT_NAME
  value: {{ .Values.global.storage.accountName | quote }}
- name: SPAM_DRIFT_INFERENCE_LOG_URL
  value: {{ include "drift.inferenceLogUrl" . | quote }}
- name: SPAM_DRIFT_REPORTS_URL
  value: {{ include "drift.reportsUrl" . | quote }}
- name: SPAM_DRIFT_MODEL_REF_TEMPLATE
  value: {{ .Values.modelRefTemplate | default (printf "models:/%s/{version}" .Values.global.model.name) | quote }}
- name: SPAM_DRIFT_MIN_ROWS
  value: {{ .Values.thresholds.minRows | quote }}
- name: SPAM_DRIFT_ALERT_REMINDER
  value: {{ .Values.alerts.reminder | quote }}
{{- with .Values.global.mlflow.trackingUri }}
- name: MLFLOW_TRACKING_URI
  value: {{ . | quote }}
{{- end }}
{{- if .Values.alerts.webhook.existingSecret }}
# the webhook URL is a secret: a file from the mounted Secret, never an environment value
- name: SPAM_DRIFT_WEBHOOK_URL_FILE
  value: {{ printf "%s/url" (include "drift.webhookDir" .) | quote }}
- name: SPAM_DRIFT_WEBHOOK_FORMAT
  value: {{ .Values.alerts.webhook.format | quote }}
{{- end }}
{{- with .Values.metrics.pushgateway.url }}
- name: SPAM_DRIFT_PUSHGATEWAY_URL
  value: {{ . | quote }}
{{- end }}
- name: MLFLOW_DISABLE_TELEMETRY
  value: "true"
{{- end -}}

{{/*
Mount path of the webhook Secret.
*/}}
{{- define "drift.webhookDir" -}}/var/run/secrets/spam-platform/drift-webhook{{- end -}}

{{/*
The thresholds as command-line options.
Usage: args: {{- include "drift.thresholdArgs" . | nindent 16 }}
*/}}
{{- define "drift.thresholdArgs" -}}
{{- $t := .Values.thresholds -}}
- --psi-threshold={{ $t.psi }}
- --ks-alpha={{ $t.ksAlpha }}
- --ks-min-statistic={{ $t.ksMinStatistic }}
- --feature-share={{ $t.featureShare }}
- --spam-rate-delta={{ $t.spamRateDelta }}
{{- end -}}

{{/*
The trainer image of the retrain step.
Usage: {{ include "drift.retrainImage" . }}
*/}}
{{- define "drift.retrainImage" -}}
{{- include "spam-common.images.image" (dict "image" .Values.retrain.image "context" .) -}}
{{- end -}}

{{/*
Whether a track's CronJob runs the retrain step after its drift run.
Usage: {{ if include "drift.retrainsAfter" (dict "environment" "production" "context" $) }}
*/}}
{{- define "drift.retrainsAfter" -}}
{{- if and .context.Values.retrain.enabled (eq .context.Values.retrain.track .environment) -}}true{{- end -}}
{{- end -}}

{{/*
Mount path of the projected KFP token (kfp's default ServiceAccountTokenVolumeCredentials path).
*/}}
{{- define "drift.kfpTokenDir" -}}/var/run/secrets/kubeflow/pipelines{{- end -}}

{{/*
Environment of the retrain container: the policy (SPAM_RETRAIN_*), where it reads and records,
the registry, the KFP endpoint.
Usage: env: {{- include "drift.retrainEnv" . | nindent 16 }}
*/}}
{{- define "drift.retrainEnv" -}}
{{- $r := .Values.retrain -}}
{{- $container := .Values.global.storage.logsContainer -}}
- name: AZURE_STORAGE_ACCOUNT_NAME
  value: {{ .Values.global.storage.accountName | quote }}
- name: MLFLOW_TRACKING_URI
  value: {{ .Values.global.mlflow.trackingUri | quote }}
- name: MLFLOW_DISABLE_TELEMETRY
  value: "true"
- name: SPAM_MODEL_NAME
  value: {{ .Values.global.model.name | quote }}
- name: SPAM_RETRAIN_MODE
  value: kfp
- name: SPAM_RETRAIN_DRIFT_REPORTS_URL
  value: {{ include "drift.reportsUrl" . | quote }}
- name: SPAM_RETRAIN_FEEDBACK_LOG_URL
  value: {{ $r.feedbackLogUrl | default (printf "abfs://%s/feedback-logs" $container) | quote }}
- name: SPAM_RETRAIN_DECISIONS_URL
  value: {{ $r.decisionsUrl | default (printf "abfs://%s/retrain-decisions" $container) | quote }}
- name: SPAM_RETRAIN_DRIFT_ENVIRONMENTS
  value: {{ toJson $r.policy.driftEnvironments | quote }}
- name: SPAM_RETRAIN_DRIFT_MAX_AGE
  value: {{ $r.policy.driftMaxAge | quote }}
- name: SPAM_RETRAIN_REQUIRE_DRIFT
  value: {{ $r.policy.requireDrift | quote }}
- name: SPAM_RETRAIN_MIN_FEEDBACK_ROWS
  value: {{ $r.policy.minFeedbackRows | quote }}
- name: SPAM_RETRAIN_MAX_MODEL_AGE
  value: {{ $r.policy.maxModelAge | quote }}
- name: SPAM_RETRAIN_COOLDOWN
  value: {{ $r.policy.cooldown | quote }}
- name: SPAM_RETRAIN_KFP_HOST
  value: {{ $r.kfp.host | quote }}
- name: SPAM_RETRAIN_KFP_EXPERIMENT
  value: {{ $r.kfp.experiment | quote }}
{{- with $r.kfp.namespace }}
- name: SPAM_RETRAIN_KFP_NAMESPACE
  value: {{ . | quote }}
{{- end }}
{{- if $r.kfp.authenticate }}
- name: SPAM_RETRAIN_KFP_TOKEN_PATH
  value: {{ printf "%s/token" (include "drift.kfpTokenDir" .) | quote }}
{{- end }}
- name: SPAM_RETRAIN_PIPELINE_ARGUMENTS
  {{- $arguments := deepCopy $r.kfp.arguments }}
  {{- if $r.kfp.tuningCluster }}
  {{- $_ := set $arguments "ray_address" (include "spam-common.names.tuningRayAddress" .) }}
  {{- end }}
  value: {{ toJson $arguments | quote }}
{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "drift.validateValues" . }}
*/}}
{{- define "drift.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "drift.validateValues.mlflow" .)
  (include "drift.validateValues.environments" .)
  (include "drift.validateValues.retrain" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "drift" "messages" $messages) -}}
{{- end -}}

{{- define "drift.validateValues.mlflow" -}}
{{- if and (not .Values.modelRefTemplate) (not .Values.global.mlflow.trackingUri) -}}
global.mlflow.trackingUri: required by drift (each model version's baseline comes from models:/<model>/<version> through MLflow), e.g. --set global.mlflow.trackingUri=http://mlflow.mlflow.svc.cluster.local:5000, or set drift.modelRefTemplate.
{{- end -}}
{{- end -}}

{{- define "drift.validateValues.environments" -}}
{{- if not (or .Values.environments.staging.enabled .Values.environments.production.enabled) -}}
drift.environments: no track enabled; enable staging or production, or set drift.enabled=false.
{{- end -}}
{{- end -}}


{{- define "drift.validateValues.retrain" -}}
{{- $r := .Values.retrain -}}
{{- if $r.enabled -}}
{{- if not (index .Values.environments $r.track).enabled -}}
drift.retrain.track: the {{ $r.track }} track's drift CronJob runs the retrain step, but drift.environments.{{ $r.track }}.enabled is false; enable it or pick the other track.
{{ end -}}
{{- if not .Values.global.mlflow.trackingUri -}}
global.mlflow.trackingUri: required by drift.retrain (the production model's age and the last retrain come from the MLflow registry).
{{ end -}}
{{- if not $r.kfp.host -}}
drift.retrain.kfp.host: required by drift.retrain (the Kubeflow Pipelines API the run is submitted to).
{{ end -}}
{{- if and $r.kfp.tuningCluster (hasKey $r.kfp.arguments "ray_address") -}}
drift.retrain.kfp.tuningCluster and drift.retrain.kfp.arguments.ray_address are mutually exclusive: the first passes the tuning chart's RayCluster as ray_address; drop one of them.
{{ end -}}
{{- end -}}
{{- end -}}
