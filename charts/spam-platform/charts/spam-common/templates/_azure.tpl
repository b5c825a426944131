{{/*
Azure workload identity.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
Azure workload identity: pods that read or write Blob storage carry the opt-in label
(spam-common.labels.standard with "workloadIdentity" true) and run under a ServiceAccount
annotated with the managed identity's client id; the webhook then injects a federated token,
so no storage key exists anywhere. Nothing is added without global.azure.workloadIdentity.clientId.
*/}}

{{/*
ServiceAccount annotations for Azure workload identity, merged with extra annotations. A
client id set explicitly in the extra annotations wins over the global one: one identity per
workload, each with only its own role assignments (terraform/base-infra creates them).
Usage: {{- with include "spam-common.azure.serviceAccountAnnotations" (dict "annotations" .Values.serviceAccount.annotations "context" $) }}{{ . | nindent 2 }}{{ end }}
*/}}
{{- define "spam-common.azure.serviceAccountAnnotations" -}}
{{- $annotations := .annotations | default dict | deepCopy -}}
{{- with .context.Values.global.azure.workloadIdentity.clientId -}}
{{- if not (hasKey $annotations "azure.workload.identity/client-id") -}}
{{- $_ := set $annotations "azure.workload.identity/client-id" . -}}
{{- end -}}
{{- end -}}
{{- with $annotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}
