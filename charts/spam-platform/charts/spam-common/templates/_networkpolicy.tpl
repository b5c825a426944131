{{/*
Network-policy rules shared by the charts.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
Egress rule to Azure Storage (Blob, and Entra ID for the workload identity token exchange):
TCP 443 to global.networkPolicy.azureCIDRs.
Usage: {{- include "spam-common.networkPolicy.azureEgress" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.azureEgress" -}}
- to:
  {{- range .context.Values.global.networkPolicy.azureCIDRs }}
    - ipBlock:
        cidr: {{ . }}
  {{- end }}
  ports:
    - protocol: TCP
      port: 443
{{- end -}}

{{/*
Peers that front the KServe predictors in Knative mode (activator, local gateway): every pod in
global.networkPolicy.knativeNamespaces.
Usage: {{- include "spam-common.networkPolicy.knativePeers" (dict "context" $) | nindent 8 }}
*/}}
{{- define "spam-common.networkPolicy.knativePeers" -}}
{{- $peers := list -}}
{{- range .context.Values.global.networkPolicy.knativeNamespaces -}}
{{- $peers = append $peers (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .))) -}}
{{- end -}}
{{- toYaml $peers -}}
{{- end -}}

{{/*
Egress rule to both tracks' predictors, for the transformer and the Triton test pods.
Knative: the local gateway / activator namespaces (the predictor Service is an ExternalName
to them); Standard: the predictor pods themselves on HTTP 8080 and gRPC 9000.
Usage: {{- include "spam-common.networkPolicy.predictorEgress" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.predictorEgress" -}}
{{- if eq .context.Values.global.serving.deploymentMode "Knative" -}}
- to:
    {{- include "spam-common.networkPolicy.knativePeers" . | nindent 4 }}
{{- else -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "spam-common.labels.peer" (dict "name" "inference" "context" .context) | nindent 10 }}
          app.kubernetes.io/component: predictor
  ports:
    - protocol: TCP
      port: 8080
    - protocol: TCP
      port: 9000
{{- end -}}
{{- end -}}
