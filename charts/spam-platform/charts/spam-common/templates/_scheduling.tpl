{{/*
Pod scheduling.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
topologySpreadConstraints with the component's selector filled in: an entry without a
labelSelector spreads the pods of this component (values files cannot know the selector).
Usage: {{- with include "spam-common.scheduling.topologySpreadConstraints" (dict "constraints" .Values.topologySpreadConstraints "matchLabels" (include "spam-common.labels.matchLabels" (dict "context" $))) }}{{ . | nindent 6 }}{{ end }}
*/}}
{{- define "spam-common.scheduling.topologySpreadConstraints" -}}
{{- if .constraints -}}
topologySpreadConstraints:
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (fromYaml $.matchLabels)) }}
{{- end }}
  - {{ toYaml $c | nindent 4 | trim }}
{{- end }}
{{- end -}}
{{- end -}}
