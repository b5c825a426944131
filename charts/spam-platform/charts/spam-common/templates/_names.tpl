{{/*
Names shared by every spam-platform chart.

Objects are named "<base>-<component>". The base is the release name cut to 26 characters:
the longest suffixes ("-production" on an InferenceService, then "-predictor" and a revision
hash added by KServe/Knative) must still fit the 63-character DNS label limit.
Every subchart computes the names of its siblings with the same helper, so the gateway can
point at "<base>-transformer" and the batch Role can bind "<base>-gateway" without sharing values.
*/}}

{{/*
The base name of every object of the release.
Usage: {{ include "spam-common.names.base" . }}
*/}}
{{- define "spam-common.names.base" -}}
{{- .Release.Name | trunc 26 | trimSuffix "-" -}}
{{- end -}}

{{/*
The chart name (also the app.kubernetes.io/name label).
Usage: {{ include "spam-common.names.name" . }}
*/}}
{{- define "spam-common.names.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
"<base>-<chart name>": the name of the current chart's main objects.
Usage: {{ include "spam-common.names.fullname" . }}
*/}}
{{- define "spam-common.names.fullname" -}}
{{- include "spam-common.names.component" (dict "component" .Chart.Name "context" .) -}}
{{- end -}}

{{/*
"<base>-<component>": the name of an object of any spam-platform chart, e.g. the gateway's
ServiceAccount from the batch chart, or a second object of the current chart.
Usage: {{ include "spam-common.names.component" (dict "component" "gateway" "context" $) }}
*/}}
{{- define "spam-common.names.component" -}}
{{- printf "%s-%s" (include "spam-common.names.base" .context) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Chart name and version, for the helm.sh/chart label.
Usage: {{ include "spam-common.names.chart" . }}
*/}}
{{- define "spam-common.names.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release namespace; every namespaced object states it explicitly.
Usage: {{ include "spam-common.names.namespace" . }}
*/}}
{{- define "spam-common.names.namespace" -}}
{{- .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The InferenceService of one model track: "<base>-<track>".
Usage: {{ include "spam-common.names.inferenceService" (dict "track" "production" "context" $) }}
*/}}
{{- define "spam-common.names.inferenceService" -}}
{{- include "spam-common.names.component" (dict "component" .track "context" .context) -}}
{{- end -}}

{{/*
The Ray Client address of the tuning chart's RayCluster: KubeRay names the head Service
"<cluster>-head-svc"; 10001 is Ray Client's port. The drift chart's retrain step passes it to
the pipeline runs it submits (ray_address); the pipeline's pods may sit in another namespace.
Usage: {{ include "spam-common.names.tuningRayAddress" $ }}
*/}}
{{- define "spam-common.names.tuningRayAddress" -}}
{{- printf "ray://%s-head-svc.%s.svc:10001" (include "spam-common.names.component" (dict "component" "tuning" "context" .)) (include "spam-common.names.namespace" .) -}}
{{- end -}}
