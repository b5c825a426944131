{{/*
checkov (the security scan the chart tests run on every render) reads skips from annotations
`checkov.io/skip<N>: <check>=<reason>`. Every skip the chart emits is listed here with its
reason, and rendered only while its reason holds.
*/}}

{{/*
Annotations for a list of "CHECK_ID=reason" strings (empty strings ignored).
Usage: {{- include "spam-common.checkov.skips" (dict "skips" (list "CKV_K8S_35=why")) | nindent 4 }}
*/}}
{{- define "spam-common.checkov.skips" -}}
{{- $lines := list -}}
{{- range .skips -}}
{{- if . -}}
{{- $lines = append $lines (printf "checkov.io/skip%d: %s" (add1 (len $lines)) (quote .)) -}}
{{- end -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}

{{/*
CKV_K8S_43 (image by digest) while an image is referenced by tag only: platform images carry
immutable release tags; setting image.digest pins them and removes the skip.
Usage: {{ include "spam-common.checkov.digestSkip" (dict "image" .Values.image) }}
*/}}
{{- define "spam-common.checkov.digestSkip" -}}
{{- if not .image.digest -}}
CKV_K8S_43=image referenced by an immutable release tag; set its digest value to pin it by digest
{{- end -}}
{{- end -}}
