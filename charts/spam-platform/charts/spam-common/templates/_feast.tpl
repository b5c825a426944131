{{/*
The Feast online store of the sender reputation features, shared by every component that
scores e-mails: the transformer (serving) and the Ray pods of batch scoring (`spam-batch run`,
whose Scorer actors run on the workers). Both render the same feature_store.yaml from
global.feast and global.redis through the helpers below, so the two cannot drift apart.
Feast expands ${SPAM_REDIS_CONNECTION_STRING} from the container environment
(spam-common.redis.env), so the Redis password never lands in a ConfigMap or in values.
*/}}

{{/*
Where each component mounts its feature_store.yaml ConfigMap (the Feast repository path).
Usage: {{ include "spam-common.feast.repoPath" . }}
*/}}
{{- define "spam-common.feast.repoPath" -}}/etc/spam-platform/feast{{- end -}}

{{/*
The name of the chart's feature_store.yaml ConfigMap: "<base>-<chart>-feast".
Usage: {{ include "spam-common.feast.configMapName" (dict "context" $) }}
*/}}
{{- define "spam-common.feast.configMapName" -}}
{{- include "spam-common.names.component" (dict "component" (printf "%s-feast" .context.Chart.Name) "context" .context) -}}
{{- end -}}

{{/*
The Feast registry location: global.feast.registryPath, else
https://<account>.blob.core.windows.net/<datasetsContainer>/feast/registry.db
Usage: {{ include "spam-common.feast.registryPath" (dict "context" $) }}
*/}}
{{- define "spam-common.feast.registryPath" -}}
{{- $g := .context.Values.global -}}
{{- $feast := $g.feast | default dict -}}
{{- $feast.registryPath | default (printf "https://%s.blob.core.windows.net/%s/feast/registry.db" $g.storage.accountName $g.storage.datasetsContainer) -}}
{{- end -}}

{{/*
Checks on global.feast, one message per problem. A release upgraded with --reuse-values from a
chart version without global.feast lacks the whole map: the message says so.
Usage: {{ include "spam-common.validateValues.feast" (dict "context" $) }}
*/}}
{{- define "spam-common.validateValues.feast" -}}
{{- $feast := .context.Values.global.feast | default dict -}}
{{- $messages := list -}}
{{- $hint := "" -}}
{{- if not .context.Values.global.feast -}}
{{- $hint = " (upgrading with --reuse-values from a chart version without global.feast? use --reset-then-reuse-values)" -}}
{{- end -}}
{{- if not $feast.project -}}
{{- $messages = append $messages (printf "global.feast.project: required (the Feast project of the sender reputation features), e.g. spam_platform%s" $hint) -}}
{{- end -}}
{{- if not $feast.entityKeySerializationVersion -}}
{{- $messages = append $messages (printf "global.feast.entityKeySerializationVersion: required (the one the registry was applied with), e.g. 3%s" $hint) -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}

{{/*
The content of feature_store.yaml: the registry in Blob storage (AzureRegistryStore, read with
the pod's workload identity), the Redis online store.
Usage: {{- include "spam-common.feast.featureStoreYaml" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.feast.featureStoreYaml" -}}
{{- include "spam-common.validateValues.fail" (dict "chart" .context.Chart.Name "messages" (list (include "spam-common.validateValues.feast" .))) -}}
{{- $feast := .context.Values.global.feast -}}
project: {{ $feast.project }}
provider: local
registry:
  registry_store_type: AzureRegistryStore
  path: {{ include "spam-common.feast.registryPath" . }}
online_store:
  type: redis
  connection_string: ${SPAM_REDIS_CONNECTION_STRING}
entity_key_serialization_version: {{ $feast.entityKeySerializationVersion }}
{{- end -}}

{{/*
The chart's feature_store.yaml ConfigMap (mount it with spam-common.feast.volume).
Usage: {{ include "spam-common.feast.configMap" (dict "component" "features" "context" $) }}
*/}}
{{- define "spam-common.feast.configMap" -}}
{{- $ctx := .context -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "spam-common.feast.configMapName" (dict "context" $ctx) }}
  namespace: {{ include "spam-common.names.namespace" $ctx }}
  labels:
    {{- include "spam-common.labels.standard" (dict "component" .component "context" $ctx) | nindent 4 }}
data:
  feature_store.yaml: |
    {{- include "spam-common.feast.featureStoreYaml" (dict "context" $ctx) | nindent 4 }}
  redis-connection-string: {{ include "spam-common.redis.connectionString" (dict "context" $ctx) | quote }}
{{- end -}}

{{/*
The pod volume of that ConfigMap, and its read-only mount at spam-common.feast.repoPath.
Usage: volumes: {{- include "spam-common.feast.volume" (dict "context" $) | nindent 8 }}
       volumeMounts: {{- include "spam-common.feast.volumeMount" . | nindent 12 }}
*/}}
{{- define "spam-common.feast.volume" -}}
- name: feast-repo
  configMap:
    name: {{ include "spam-common.feast.configMapName" . }}
    defaultMode: 0444
{{- end -}}
{{- define "spam-common.feast.volumeMount" -}}
- name: feast-repo
  mountPath: {{ include "spam-common.feast.repoPath" . }}
  readOnly: true
{{- end -}}

{{/*
The Redis connection string Feast expands in feature_store.yaml: the password comes from
global.redis.existingSecret (SPAM_REDIS_PASSWORD, declared first so that $(SPAM_REDIS_PASSWORD)
expands), never from values. Socket and connect timeouts bound how long one lookup can block the
transformer while Redis does not answer (it then scores with the default reputation).
Usage: env: {{- include "spam-common.redis.env" (dict "context" $) | nindent 12 }}
*/}}
{{- define "spam-common.redis.env" -}}
{{- $redis := .context.Values.global.redis -}}
- name: SPAM_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $redis.existingSecret }}
      key: {{ $redis.passwordKey }}
- name: SPAM_REDIS_CONNECTION_STRING
  value: {{ include "spam-common.redis.connectionString" . | quote }}
{{- end -}}

{{/*
The Redis connection string with the password as the $(SPAM_REDIS_PASSWORD) reference that
Kubernetes expands in a container's env (spam-common.redis.env). The feature_store.yaml
ConfigMaps carry it too (key redis-connection-string): a pod that cannot compose env from
a Secret that way (the training pipeline's reputation step) substitutes the password itself.
Usage: {{ include "spam-common.redis.connectionString" (dict "context" $) }}
*/}}
{{- define "spam-common.redis.connectionString" -}}
{{- $redis := .context.Values.global.redis -}}
{{- printf "%s:%v,password=$(SPAM_REDIS_PASSWORD),ssl=%t,socket_timeout=%v,socket_connect_timeout=%v" $redis.host $redis.port $redis.tls $redis.timeoutSeconds $redis.timeoutSeconds -}}
{{- end -}}

{{/*
Checks on global.redis for a component that reads the online store, one message per problem.
Usage: {{ include "spam-common.validateValues.redis" (dict "component" "the transformer" "context" $) }}
*/}}
{{- define "spam-common.validateValues.redis" -}}
{{- $r := .context.Values.global.redis -}}
{{- $messages := list -}}
{{- if not $r.host -}}
{{- $messages = append $messages (printf "global.redis.host: required by %s (the Feast online store), e.g. --set global.redis.host=redis-spam.redis.cache.windows.net" .component) -}}
{{- end -}}
{{- if not $r.existingSecret -}}
{{- $messages = append $messages (printf "global.redis.existingSecret: required by %s (an existing Secret with the Redis password); the chart never takes the password itself" .component) -}}
{{- end -}}
{{- join "\n" $messages -}}
{{- end -}}

{{/*
Egress rule to Redis (the Feast online store): global.redis.port to
global.networkPolicy.redisCIDRs.
Usage: {{- include "spam-common.networkPolicy.redisEgress" (dict "context" $) | nindent 4 }}
*/}}
{{- define "spam-common.networkPolicy.redisEgress" -}}
{{- $g := .context.Values.global -}}
- to:
  {{- range $g.networkPolicy.redisCIDRs }}
    - ipBlock:
        cidr: {{ . }}
  {{- end }}
  ports:
    - protocol: TCP
      port: {{ $g.redis.port }}
{{- end -}}
