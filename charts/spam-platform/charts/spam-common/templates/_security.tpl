{{/*
Restricted Pod Security: every pod and container of spam-platform runs with these contexts
(https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted).
They are not values on purpose: nothing in the platform needs more, so nothing can loosen them.
The UID defaults to 10001 (an unprivileged UID above the 10000 range that host users occupy);
"runAsUser" overrides it for third-party images built around a fixed UID (Triton runs as 1000).
*/}}

{{/*
Pod-level security context. "knative" true renders only what Knative Serving accepts on a
revision's pod without feature flags (seccompProfile; runAsUser, fsGroup and friends need
kubernetes.podspec-securitycontext): the containers then carry the non-root settings, which
restricted Pod Security accepts from either level.
Usage: securityContext: {{- include "spam-common.securityContext.pod" (dict "context" $) | nindent 8 }}
       securityContext: {{- include "spam-common.securityContext.pod" (dict "runAsUser" 1000 "knative" true "context" $) | nindent 8 }}
*/}}
{{- define "spam-common.securityContext.pod" -}}
{{- $uid := .runAsUser | default 10001 -}}
{{- if not .knative -}}
runAsNonRoot: true
runAsUser: {{ $uid }}
runAsGroup: {{ $uid }}
fsGroup: {{ $uid }}
fsGroupChangePolicy: OnRootMismatch
{{ end -}}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Container-level security context: non-root, no privilege escalation, no capabilities,
RuntimeDefault seccomp and a read-only root filesystem (mount an emptyDir on /tmp, see
spam-common.volumes.tmp).
Usage: securityContext: {{- include "spam-common.securityContext.container" (dict "context" $) | nindent 12 }}
*/}}
{{- define "spam-common.securityContext.container" -}}
{{- $uid := .runAsUser | default 10001 -}}
runAsNonRoot: true
runAsUser: {{ $uid }}
runAsGroup: {{ $uid }}
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The writable scratch space a read-only root filesystem needs: an emptyDir for /tmp.
Usage: volumes: {{- include "spam-common.volumes.tmp" (dict "sizeLimit" "256Mi") | nindent 8 }}
*/}}
{{- define "spam-common.volumes.tmp" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .sizeLimit | default "256Mi" }}
{{- end -}}

{{/*
The matching volumeMount.
Usage: volumeMounts: {{- include "spam-common.volumeMounts.tmp" . | nindent 12 }}
*/}}
{{- define "spam-common.volumeMounts.tmp" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}
