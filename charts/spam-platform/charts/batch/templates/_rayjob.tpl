{{/*
The RayJob manifest of one async batch job (see configmap-rayjob.yaml).
Usage: {{ include "batch.rayJob" . }}
*/}}
{{- define "batch.rayJob" -}}
apiVersion: ray.io/v1
kind: RayJob
metadata:
  generateName: {{ printf "%s-" (include "spam-common.names.fullname" .) }}
  namespace: {{ include "spam-common.names.namespace" . }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" "job" "context" $) | nindent 4 }}
  annotations:
    spam-platform/job-id: "{job_id}"
    spam-platform/environment: "{environment}"
    spam-platform/model-version: "{model_version}"
spec:
  entrypoint: {{ include "batch.entrypoint" . | quote }}
  # Run on the release's long-lived RayCluster instead of creating one per job.
  clusterSelector:
    ray.io/cluster: {{ include "batch.clusterName" . }}
  submissionMode: {{ .Values.rayJob.submissionMode }}
  activeDeadlineSeconds: {{ .Values.rayJob.activeDeadlineSeconds }}
  {{- if eq .Values.rayJob.submissionMode "K8sJobMode" }}
  submitterConfig:
    backoffLimit: 0
  submitterPodTemplate:
    metadata:
      labels:
        {{- include "spam-common.labels.standard" (dict "component" "submitter" "context" $) | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "spam-common.names.fullname" . }}
      automountServiceAccountToken: false
      {{- with include "spam-common.images.pullSecrets" (dict "context" .) }}{{ . | nindent 6 }}{{ end }}
      securityContext:
        {{- include "spam-common.securityContext.pod" (dict "context" .) | nindent 8 }}
      containers:
        # KubeRay fills in the `ray job submit` command of the first container.
        - name: ray-job-submitter
          image: {{ include "batch.image" . }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          env:
            {{- include "batch.env" . | nindent 12 }}
          securityContext:
            {{- include "spam-common.securityContext.container" (dict "context" .) | nindent 12 }}
          resources:
            {{- include "spam-common.resources.preset" (dict "type" .Values.rayJob.submitterResourcesPreset) | nindent 12 }}
          volumeMounts:
            {{- include "spam-common.volumeMounts.tmp" . | nindent 12 }}
      volumes:
        {{- include "spam-common.volumes.tmp" (dict "sizeLimit" "64Mi") | nindent 8 }}
  {{- end }}
{{- end -}}
