{{/*
Ray (KubeRay RayCluster) helpers shared by the batch and tuning charts.
*/}}

{{/*
The raylet's port on a worker (rayStartParams node-manager-port): fixed so that a TCP probe can
watch it.
Usage: {{ include "spam-common.ray.rayletPort" . }}
*/}}
{{- define "spam-common.ray.rayletPort" -}}8076{{- end -}}

{{/*
Probes of a Ray container. KubeRay gives a Ray container without probes of its own probes that
ask the Ray dashboard agent (port 52365; before Ray 2.53 also `wget` to the dashboard on 8265,
run inside the container): an image without the dashboard (ray without the `default` extra: the
trainer image) or without wget (neither image has it) would never be ready and be restarted for
ever. These TCP probes replace them: on the head the GCS (liveness) and `readinessPort`, the port
its clients need (tuning: the Ray Client server, 10001; batch: the dashboard's job API, 8265,
which the batch image runs with ray[default]); on a worker its raylet.
Usage: {{- include "spam-common.ray.probes" (dict "head" true "readinessPort" 10001 "context" $) | nindent 12 }}
       {{- include "spam-common.ray.probes" (dict "head" false "context" $) | nindent 14 }}
*/}}
{{- define "spam-common.ray.probes" -}}
{{- $raylet := include "spam-common.ray.rayletPort" .context | int -}}
{{- $live := ternary 6379 $raylet .head -}}
{{- $ready := ternary (.readinessPort | default 0 | int) $raylet .head -}}
{{- if not $ready -}}
{{- fail "spam-common.ray.probes: a head needs readinessPort" -}}
{{- end -}}
livenessProbe:
  tcpSocket:
    port: {{ $live }}
  initialDelaySeconds: 30
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  tcpSocket:
    port: {{ $ready }}
  initialDelaySeconds: 10
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 10
{{- end -}}
