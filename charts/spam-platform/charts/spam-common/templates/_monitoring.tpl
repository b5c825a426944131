{{/*
Prometheus scraping shared by the charts whose service answers GET /metrics (gateway,
transformer): the ServiceMonitor and the NetworkPolicy rule that lets Prometheus in. Kept here,
every component is scraped the same way and only where the cluster can take it.
*/}}

{{/*
A Prometheus Operator ServiceMonitor for GET /metrics on the chart's Service port "http",
rendered only when .Values.metrics.serviceMonitor.enabled AND the cluster serves
monitoring.coreos.com/v1 (NOTES.txt warns when the flag is set without that API).
Values read: metrics.serviceMonitor.{enabled,interval,scrapeTimeout,labels}.
Usage: {{- include "spam-common.serviceMonitor" (dict "component" "api" "context" $) }}
*/}}
{{- define "spam-common.serviceMonitor" -}}
{{- $ctx := .context -}}
{{- $monitor := $ctx.Values.metrics.serviceMonitor -}}
{{- if and $monitor.enabled ($ctx.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "spam-common.names.fullname" $ctx }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" .component "extra" $monitor.labels "context" $ctx) | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "spam-common.labels.matchLabels" (dict "context" $ctx) | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ include "spam-common.names.namespace" $ctx }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $monitor.interval }}
      scrapeTimeout: {{ $monitor.scrapeTimeout }}
{{- end }}
{{- end -}}

{{/*
Ingress rule letting Prometheus (pods in .Values.networkPolicy.monitoringNamespaces) reach
GET /metrics on "port"; empty unless .Values.metrics.serviceMonitor.enabled.
Usage: {{- include "spam-common.networkPolicy.monitoringIngress" (dict "port" 8080 "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.monitoringIngress" -}}
{{- $ctx := .context -}}
{{- if $ctx.Values.metrics.serviceMonitor.enabled -}}
# Prometheus -> GET /metrics
- from:
    {{- range $ctx.Values.networkPolicy.monitoringNamespaces }}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . }}
    {{- end }}
  ports:
    - protocol: TCP
      port: {{ .port }}
{{- end -}}
{{- end -}}
