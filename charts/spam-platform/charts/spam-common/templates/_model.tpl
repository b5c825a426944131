{{/*
Where a track's model lives: one model-version key drives the ISVC, the transformer's
features and the gateway's reported version.
Part of the platform contract every chart must agree on (spam-common's model, serving,
Azure, scheduling, network-policy and validation helpers, one file per concern): kept here,
the gateway, transformer and inference charts cannot drift apart.
*/}}

{{/*
The model version of a track, as a string ("3").
Usage: {{ include "spam-common.model.version" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.version" -}}
{{- $tracks := .context.Values.global.model.tracks -}}
{{- $track := index $tracks .track | default dict -}}
{{- $track.version | toString -}}
{{- end -}}

{{/*
The folder the trainer publishes for a track's model version:
https://<account>.blob.core.windows.net/<modelsContainer>/<modelName>/v<version>
Usage: {{ include "spam-common.model.baseUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.baseUri" -}}
{{- $g := .context.Values.global -}}
{{- printf "https://%s.blob.core.windows.net/%s/%s/v%s" $g.storage.accountName $g.storage.modelsContainer $g.model.name (include "spam-common.model.version" .) -}}
{{- end -}}

{{/*
The Triton model repository root of a track (holds <modelName>/config.pbtxt and
<modelName>/1/model.onnx): the InferenceService storageUri.
Usage: {{ include "spam-common.model.storageUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.storageUri" -}}
{{- printf "%s/triton" (include "spam-common.model.baseUri" .) -}}
{{- end -}}

{{/*
The fitted feature artifacts of a track's model version (read by the transformer).
Usage: {{ include "spam-common.model.featuresUri" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.model.featuresUri" -}}
{{- printf "%s/features.json" (include "spam-common.model.baseUri" .) -}}
{{- end -}}
