{{/*
A platform image reference: "<registry>/<repository>:<tag>" or "…@<digest>".
The registry is global.imageRegistry when set, else image.registry; the tag is image.tag, else
global.imageTag, else the chart's appVersion. A digest pins the image and wins over the tag.
Usage: image: {{ include "spam-common.images.image" (dict "image" .Values.image "context" $) }}
*/}}
{{- define "spam-common.images.image" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default .image.registry -}}
{{- $tag := .image.tag | default $global.imageTag | default .context.Chart.AppVersion | toString -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{/*
A third-party image (Triton, curl for tests): its own registry, repository, tag and digest;
global.imageRegistry/imageTag do not apply (they name the platform's own images).
Usage: image: {{ include "spam-common.images.thirdParty" (dict "image" .Values.servingRuntime.image) }}
*/}}
{{- define "spam-common.images.thirdParty" -}}
{{- $ref := .image.repository -}}
{{- if .image.registry }}{{ $ref = printf "%s/%s" .image.registry $ref }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
imagePullSecrets from global.imagePullSecrets (names of existing Secrets); renders nothing
when there are none.
Usage: {{- with include "spam-common.images.pullSecrets" (dict "context" $) }}{{ . | nindent 6 }}{{ end }}
*/}}
{{- define "spam-common.images.pullSecrets" -}}
{{- $global := .context.Values.global | default dict -}}
{{- with $global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}
