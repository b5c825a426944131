{{/*
A `helm test` Pod: restricted like every other pod, the global test image (curl), no
ServiceAccount token, nano resources, an emptyDir /tmp, and labels that carry the release
(so NetworkPolicies cover it) but name "<chart>-test" (so no Service selects it).
"script" is a POSIX sh script; "volumes"/"volumeMounts" are optional lists.
Usage: {{ include "spam-common.tests.pod" (dict "name" "ready" "script" $script "context" $) }}
*/}}
{{- define "spam-common.tests.pod" -}}
{{- $ctx := .context -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ printf "%s-test-%s" (include "spam-common.names.fullname" $ctx) .name | trunc 63 | trimSuffix "-" }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "name" (printf "%s-test" (include "spam-common.names.name" $ctx)) "component" "test" "context" $ctx) | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
    {{- include "spam-common.checkov.skips" (dict "skips" (list
        "CKV_K8S_8=one-shot helm test pod: it runs one script and exits, a liveness probe has nothing to watch"
        "CKV_K8S_9=one-shot helm test pod: it serves no traffic to be ready for"
        (include "spam-common.checkov.digestSkip" (dict "image" $ctx.Values.global.tests.image)))) | nindent 4 }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  {{- with include "spam-common.images.pullSecrets" (dict "context" $ctx) }}{{ . | nindent 2 }}{{ end }}
  securityContext:
    {{- include "spam-common.securityContext.pod" (dict "context" $ctx) | nindent 4 }}
  containers:
    - name: test
      image: {{ include "spam-common.images.thirdParty" (dict "image" $ctx.Values.global.tests.image) }}
      imagePullPolicy: Always
      command:
        - /bin/sh
        - -ec
        - |
          {{- .script | nindent 10 }}
      securityContext:
        {{- include "spam-common.securityContext.container" (dict "context" $ctx) | nindent 8 }}
      resources:
        {{- include "spam-common.resources.preset" (dict "type" "nano") | nindent 8 }}
      volumeMounts:
        {{- include "spam-common.volumeMounts.tmp" . | nindent 8 }}
        {{- with .volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    {{- include "spam-common.volumes.tmp" (dict "sizeLimit" "16Mi") | nindent 4 }}
    {{- with .volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
