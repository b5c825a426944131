{{/*
Batch helpers and value checks.
*/}}

{{/*
The Ray image (the trainer image).
Usage: {{ include "batch.image" . }}
*/}}
{{- define "batch.image" -}}
{{- include "spam-common.images.image" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{/*
Name of the RayCluster; RayJobs select it with ray.io/cluster.
Usage: {{ include "batch.clusterName" . }}
*/}}
{{- define "batch.clusterName" -}}
{{- include "spam-common.names.fullname" . -}}
{{- end -}}

{{/*
Name of the RayJob template ConfigMap; the gateway chart mounts it by the same name.
Usage: {{ include "batch.rayJobTemplateName" . }}
*/}}
{{- define "batch.rayJobTemplateName" -}}
{{- include "spam-common.names.component" (dict "component" "batch-rayjob" "context" .) -}}
{{- end -}}

{{/*
The job's command: the trainer CLI's `score`, which resolves models:/<model>/<version> through
MLflow (global.mlflow.trackingUri). The gateway replaces {input_uri}, {output_uri},
{model_version}, {environment}, {job_id} and the locations the job may read and write,
{input_roots} and {output_roots} (its own SPAM_GATEWAY_BATCH_*_ROOTS: spam-batch checks them again).
Usage: {{ include "batch.entrypoint" . }}
*/}}
{{- define "batch.entrypoint" -}}
{{- .Values.rayJob.entrypoint | default (printf "spam-batch run --input {input_uri} --output {output_uri} --model models:/%s/{model_version} --status-dir {status_uri} --job-id {job_id} --environment {environment} --input-roots '{input_roots}' --output-roots '{output_roots}'" .Values.global.model.name) -}}
{{- end -}}

{{/*
Environment of every Ray container (head, workers, submitter).
Usage: env: {{- include "batch.env" . | nindent 12 }}
*/}}
{{- define "batch.env" -}}
# Ray writes its session files and ~/.ray under HOME; the root filesystem is read-only.
- name: HOME
  value: /tmp
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
- name: AZURE_STORAGE_ACCOUNT_NAME
  value: {{ .Values.global.storage.accountName | quote }}
# every batch prediction joins the inference log the gateway writes (spam-batch reads this)
- name: SPAM_INFERENCE_LOG_URL
  value: {{ printf "abfs://%s/inference-logs" .Values.global.storage.logsContainer | quote }}
{{- with .Values.global.mlflow.trackingUri }}
- name: MLFLOW_TRACKING_URI
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
Environment of the Ray head and workers on top of batch.env: the Feast repository of the sender
reputation (spam-batch reads SPAM_FEAST_REPO; the job driver runs on the head, the Scorer actors
on the workers) and the Redis connection string its feature_store.yaml expands, the password
from global.redis.existingSecret. The submitter pod only runs `ray job submit` and gets neither.
Usage: env: {{- include "batch.rayEnv" . | nindent 14 }}
*/}}
{{- define "batch.rayEnv" -}}
{{ include "batch.env" . }}
- name: SPAM_FEAST_REPO
  value: {{ include "spam-common.feast.repoPath" . | quote }}
{{ include "spam-common.redis.env" (dict "context" .) }}
{{- end -}}

{{/*
volumeMounts of the Ray head and workers: /tmp, shared memory, the Feast repository.
Usage: volumeMounts: {{- include "batch.rayVolumeMounts" . | nindent 14 }}
*/}}
{{- define "batch.rayVolumeMounts" -}}
{{ include "spam-common.volumeMounts.tmp" . }}
- name: dshm
  mountPath: /dev/shm
{{ include "spam-common.feast.volumeMount" . }}
{{- end -}}

{{/*
A Ray pod's spec minus its containers' specifics: identity, restricted security, scheduling.
The head mounts the ServiceAccount token only when the in-tree autoscaler (a sidecar of the
head) runs: it reads pods and scales its RayCluster through the API server.
Usage: {{- include "batch.podSpec" (dict "head" true "context" .) | nindent 8 }}
*/}}
{{- define "batch.podSpec" -}}
{{- $head := .head -}}
{{- with .context -}}
serviceAccountName: {{ include "spam-common.names.fullname" . }}
automountServiceAccountToken: {{ if and $head .Values.autoscaling.enabled }}true{{ else }}false{{ end }}
{{- with include "spam-common.images.pullSecrets" (dict "context" .) }}
{{ . }}
{{- end }}
securityContext:
  {{- include "spam-common.securityContext.pod" (dict "context" .) | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "spam-common.volumes.tmp" (dict "sizeLimit" "4Gi") | nindent 2 }}
  # Ray's object store lives in shared memory; the container default (64Mi) is too small.
  - name: dshm
    emptyDir:
      medium: Memory
      sizeLimit: 1Gi
  {{- include "spam-common.feast.volume" (dict "context" .) | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "batch.validateValues" . }}
*/}}
{{- define "batch.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "batch.validateValues.mlflow" .)
  (include "spam-common.validateValues.redis" (dict "component" "batch" "context" .))
  (include "spam-common.validateValues.feast" (dict "context" .))
  (include "batch.validateValues.autoscaling" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "batch" "messages" $messages) -}}
{{- end -}}

{{- define "batch.validateValues.mlflow" -}}
{{- if and (not .Values.rayJob.entrypoint) (not .Values.global.mlflow.trackingUri) -}}
global.mlflow.trackingUri: required by batch (the default job resolves models:/<model>/<version> through MLflow), e.g. --set global.mlflow.trackingUri=http://mlflow.mlflow.svc.cluster.local:5000, or set batch.rayJob.entrypoint.
{{- end -}}
{{- end -}}

{{- define "batch.validateValues.autoscaling" -}}
{{- $a := .Values.autoscaling -}}
{{- if and $a.enabled (gt (int $a.minWorkers) (int $a.maxWorkers)) -}}
batch.autoscaling.minWorkers ({{ $a.minWorkers }}) is above batch.autoscaling.maxWorkers ({{ $a.maxWorkers }}).
{{- end -}}
{{- end -}}
