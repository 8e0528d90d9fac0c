{{/* Names ------------------------------------------------------------------------- */}}

{{- define "llmrouter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llmrouter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", e.g. llmrouter-router. Call with (dict "root" $ "component" "router"). */}}
{{- define "llmrouter.componentName" -}}
{{- printf "%s-%s" (include "llmrouter.fullname" .root | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "llmrouter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llmrouter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmrouter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "llmrouter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* Labels ------------------------------------------------------------------------ */}}

{{- define "llmrouter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmrouter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "llmrouter.labels" -}}
helm.sh/chart: {{ include "llmrouter.chart" .root }}
{{ include "llmrouter.selectorLabels" . }}
app.kubernetes.io/part-of: llmrouter
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Kafka ------------------------------------------------------------------------- */}}

{{/* The consumer group of a worker kind, as workers/app.py builds it. */}}
{{- define "llmrouter.consumerGroup" -}}
{{- printf "%sllmrouter-%s" (.root.Values.kafka.groupPrefix | default "") .component }}
{{- end }}

{{- define "llmrouter.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{- define "llmrouter.kafkaUsesTls" -}}
{{- if hasSuffix "SSL" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{- define "llmrouter.routingConfigMap" -}}
{{- if .Values.routing.existingConfigMap }}
{{- .Values.routing.existingConfigMap }}
{{- else }}
{{- include "llmrouter.componentName" (dict "root" . "component" "routing") }}
{{- end }}
{{- end }}

{{- define "llmrouter.routingPath" -}}
{{- printf "/etc/llmrouter/routing/%s" .Values.routing.key }}
{{- end }}

{{- define "llmrouter.simulatorUrl" -}}
{{- printf "http://%s:%v" (include "llmrouter.componentName" (dict "root" . "component" "simulator")) .Values.simulator.port }}
{{- end }}

{{/* Pod pieces shared by the workers ------------------------------------------------ */}}

{{/* Environment of a worker container. Call with (dict "root" $ "component" kind "w" values). */}}
{{- define "llmrouter.workerEnv" -}}
{{- $v := .root.Values -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ $v.kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if include "llmrouter.kafkaUsesSasl" .root }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ $v.kafka.sasl.username | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.passwordSecret.name }}
      key: {{ $v.kafka.sasl.passwordSecret.key }}
{{- end }}
{{- if or $v.kafka.tls.ca.secretName $v.kafka.tls.ca.configMapName }}
- name: KAFKA_SSL_CAFILE
  value: {{ printf "/etc/llmrouter/kafka-ca/%s" $v.kafka.tls.ca.key | quote }}
{{- end }}
{{- if $v.kafka.tls.clientCert.secretName }}
- name: KAFKA_SSL_CERTFILE
  value: {{ printf "/etc/llmrouter/kafka-client/%s" $v.kafka.tls.clientCert.certKey | quote }}
- name: KAFKA_SSL_KEYFILE
  value: {{ printf "/etc/llmrouter/kafka-client/%s" $v.kafka.tls.clientCert.keyKey | quote }}
{{- end }}
# The pod name: the worker's Kafka transactional id is "<group>-<pod name>".
- name: LLMROUTER_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: LLMROUTER_CONFIG
  value: {{ include "llmrouter.routingPath" .root | quote }}
- name: LLMROUTER_METRICS_PORT
  value: {{ $v.metrics.port | quote }}
- name: LLMROUTER_GRACE_S
  value: {{ $v.graceSeconds | quote }}
- name: LLMROUTER_MAX_IN_FLIGHT
  value: {{ .w.maxInFlight | quote }}
- name: LLMROUTER_PARTITIONS
  value: {{ $v.kafka.partitions | quote }}
{{- with $v.kafka.groupPrefix }}
- name: LLMROUTER_GROUP_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with $v.kafka.tasksPattern }}
- name: LLMROUTER_TASKS_PATTERN
  value: {{ . | quote }}
{{- end }}
{{- if and $v.simulator.enabled $v.simulator.useForWorkers }}
- name: LLMROUTER_SIMULATOR_URL
  value: {{ include "llmrouter.simulatorUrl" .root | quote }}
{{- end }}
{{- range $v.apiKeys.env }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
      optional: {{ .optional | default false }}
{{- end }}
{{- include "llmrouter.stateEnv" .root }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .w.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "llmrouter.workerVolumeMounts" -}}
{{- $v := .Values -}}
- name: routing
  mountPath: /etc/llmrouter/routing
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if or $v.kafka.tls.ca.secretName $v.kafka.tls.ca.configMapName }}
- name: kafka-ca
  mountPath: /etc/llmrouter/kafka-ca
  readOnly: true
{{- end }}
{{- if $v.kafka.tls.clientCert.secretName }}
- name: kafka-client
  mountPath: /etc/llmrouter/kafka-client
  readOnly: true
{{- end }}
{{- include "llmrouter.stateVolumeMounts" . }}
{{- with $v.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "llmrouter.workerVolumes" -}}
{{- $v := .Values -}}
- name: routing
  configMap:
    name: {{ include "llmrouter.routingConfigMap" . }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if $v.kafka.tls.ca.secretName }}
- name: kafka-ca
  secret:
    secretName: {{ $v.kafka.tls.ca.secretName }}
    items:
      - key: {{ $v.kafka.tls.ca.key }}
        path: {{ $v.kafka.tls.ca.key }}
{{- else if $v.kafka.tls.ca.configMapName }}
- name: kafka-ca
  configMap:
    name: {{ $v.kafka.tls.ca.configMapName }}
    items:
      - key: {{ $v.kafka.tls.ca.key }}
        path: {{ $v.kafka.tls.ca.key }}
{{- end }}
{{- if $v.kafka.tls.clientCert.secretName }}
- name: kafka-client
  secret:
    secretName: {{ $v.kafka.tls.clientCert.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $v.kafka.tls.clientCert.certKey }}
        path: {{ $v.kafka.tls.clientCert.certKey }}
      - key: {{ $v.kafka.tls.clientCert.keyKey }}
        path: {{ $v.kafka.tls.clientCert.keyKey }}
{{- end }}
{{- include "llmrouter.stateVolumes" . }}
{{- with $v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "llmrouter.probe" -}}
httpGet:
  path: {{ .path }}
  port: metrics
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}
