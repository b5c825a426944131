{{/*
Tuning helpers and value checks.
*/}}

{{/*
The Ray image (the trainer image).
Usage: {{ include "tuning.image" . }}
*/}}
{{- define "tuning.image" -}}
{{- include "spam-common.images.image" (dict "image" .Values.image "context" .) -}}
{{- end -}}

{{/*
Name of the RayCluster ("<base>-tuning"); its head Service is "<name>-head-svc"
(spam-common.names.tuningRayAddress).
Usage: {{ include "tuning.clusterName" . }}
*/}}
{{- define "tuning.clusterName" -}}
{{- include "spam-common.names.fullname" . -}}
{{- end -}}

{{/*
Environment of the Ray head and workers.
Usage: env: {{- include "tuning.env" . | nindent 14 }}
*/}}
{{- define "tuning.env" -}}
# Ray writes its session files, ~/.ray and Ray Tune's ~/ray_results under HOME; the root
# filesystem is read-only.
- name: HOME
  value: /tmp
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
# Ray Client has no token to present: the NetworkPolicy decides who may connect
- name: RAY_AUTH_MODE
  value: disabled
{{- end -}}

{{/*
volumeMounts of the Ray head and workers: /tmp and shared memory.
Usage: volumeMounts: {{- include "tuning.volumeMounts" . | nindent 14 }}
*/}}
{{- define "tuning.volumeMounts" -}}
{{ include "spam-common.volumeMounts.tmp" . }}
- name: dshm
  mountPath: /dev/shm
{{- end -}}

{{/*
A Ray pod's spec minus its containers: identity, restricted security, scheduling, volumes.
The head mounts the ServiceAccount token only when the in-tree autoscaler (a sidecar of the
head) runs: it reads pods and scales its RayCluster through the API server.
Usage: {{- include "tuning.podSpec" (dict "head" true "context" .) | nindent 8 }}
*/}}
{{- define "tuning.podSpec" -}}
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
  # Ray session files and logs, Ray Tune's experiment state (head)
  {{- include "spam-common.volumes.tmp" (dict "sizeLimit" "4Gi") | nindent 2 }}
  # Ray's object store lives in shared memory; the container default (64Mi) is too small.
  - name: dshm
    emptyDir:
      medium: Memory
      sizeLimit: 1Gi
{{- end -}}
{{- end -}}

{{/*
Value checks; fails once listing every problem.
Usage: {{- include "tuning.validateValues" . }}
*/}}
{{- define "tuning.validateValues" -}}
{{- $messages := list
  (include "spam-common.validateValues.global" (dict "context" .))
  (include "tuning.validateValues.autoscaling" .)
-}}
{{- include "spam-common.validateValues.fail" (dict "chart" "tuning" "messages" $messages) -}}
{{- end -}}

{{- define "tuning.validateValues.autoscaling" -}}
{{- $a := .Values.autoscaling -}}
{{- if and $a.enabled (gt (int $a.minWorkers) (int $a.maxWorkers)) -}}
tuning.autoscaling.minWorkers ({{ $a.minWorkers }}) is above tuning.autoscaling.maxWorkers ({{ $a.maxWorkers }}).
{{- end -}}
{{- end -}}
