{{/*
Checks on the shared `global` values.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
Fail with a clear message when a subchart is rendered without the umbrella's `global` values
(`helm template charts/spam-platform/charts/gateway`): the subcharts are only installable
through charts/spam-platform. Called before the first use of `global` in every template.
Usage: {{- include "spam-common.requireUmbrella" . }}
*/}}
{{- define "spam-common.requireUmbrella" -}}
{{- $g := .Values.global | default dict -}}
{{- if not (and $g.model $g.storage $g.serving $g.networkPolicy $g.azure $g.tests) -}}
{{- printf "%s: the global values of the spam-platform umbrella chart are missing; install charts/spam-platform (its values.yaml defines global), not the subchart alone" .Chart.Name | fail -}}
{{- end -}}
{{- end -}}

{{/*
Checks on the shared `global` values, one message per problem (empty string when fine).
Every chart's <chart>.validateValues includes it, so a subchart cannot render against
incomplete globals.
Usage: {{ include "spam-common.validateValues.global" (dict "context" $) }}
*/}}
{{- define "spam-common.validateValues.global" -}}
{{- $g := .context.Values.global -}}
{{- $messages := list -}}
{{- if not (has $g.environment (list "staging" "production")) -}}
{{- $messages = append $messages (printf "global.environment: %q is not an environment; use staging or production." (toString $g.environment)) -}}
{{- end -}}
{{- if not $g.model.name -}}
{{- $messages = append $messages "global.model.name: required (the registered model, also the Triton model name), e.g. spam-detector." -}}
{{- end -}}
{{- range $track := list "staging" "production" -}}
{{- if not (include "spam-common.model.version" (dict "track" $track "context" $.context)) -}}
{{- $messages = append $messages (printf "global.model.tracks.%s.version: required (the model version the %s track serves), e.g. --set global.model.tracks.%s.version=3" $track $track $track) -}}
{{- end -}}
{{- end -}}
{{- if not $g.storage.accountName -}}
{{- $messages = append $messages "global.storage.accountName: required (the Azure Storage account holding models, logs and datasets), e.g. --set global.storage.accountName=stspamprod" -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}

{{/*
Fail once with every message (bitnami style): "messages" is a list of strings, empty ones ignored.
Usage: {{- include "spam-common.validateValues.fail" (dict "chart" "gateway" "messages" $messages) }}
*/}}
{{- define "spam-common.validateValues.fail" -}}
{{- $lines := list -}}
{{- range .messages -}}
{{- range splitList "\n" . -}}
{{- if . }}{{ $lines = append $lines (printf "  - %s" .) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if $lines -}}
{{- printf "\n%s: invalid values:\n%s" .chart (join "\n" $lines) | fail -}}
{{- end -}}
{{- end -}}
