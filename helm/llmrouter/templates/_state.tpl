{{/* The shared state store (Redis) of the workers: rate limits, budgets, cooldowns and
idempotency across replicas. An existing Redis by URL (from a Secret when it carries a
password), or the bundled one (state.bundled.enabled), whose password is always in a
Secret: an existing one, or one the chart generates (kept across upgrades). */}}

{{- define "llmrouter.redisBundledName" -}}
{{- include "llmrouter.componentName" (dict "root" . "component" "redis") }}
{{- end }}

{{/* The Secret holding the bundled Redis's password. */}}
{{- define "llmrouter.redisBundledSecretName" -}}
{{- .Values.state.bundled.password.existingSecret | default (printf "%s-password" (include "llmrouter.redisBundledName" .)) }}
{{- end }}

{{/* The Secret (and key) the workers read the store's password from: the bundled
Redis's, else state.redis.passwordSecret; empty name: none. */}}
{{- define "llmrouter.redisPasswordSecretName" -}}
{{- if .Values.state.bundled.enabled }}
{{- include "llmrouter.redisBundledSecretName" . }}
{{- else }}
{{- .Values.state.redis.passwordSecret.name }}
{{- end }}
{{- end }}

{{- define "llmrouter.redisPasswordSecretKey" -}}
{{- if .Values.state.bundled.enabled }}
{{- .Values.state.bundled.password.key }}
{{- else }}
{{- .Values.state.redis.passwordSecret.key }}
{{- end }}
{{- end }}

{{/* Environment of a worker for the store. Call with the root context. */}}
{{- define "llmrouter.stateEnv" -}}
{{- $s := .Values.state -}}
{{- if $s.redis.urlSecret.name }}
- name: LLMROUTER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $s.redis.urlSecret.name }}
      key: {{ $s.redis.urlSecret.key }}
{{- else if $s.redis.url }}
- name: LLMROUTER_REDIS_URL
  value: {{ $s.redis.url | quote }}
{{- else if $s.bundled.enabled }}
- name: LLMROUTER_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "llmrouter.redisBundledName" .) | quote }}
{{- end }}
{{- if include "llmrouter.redisPasswordSecretName" . }}
- name: LLMROUTER_REDIS_PASSWORD_FILE
  value: {{ printf "/etc/llmrouter/redis/%s" (include "llmrouter.redisPasswordSecretKey" .) | quote }}
{{- end }}
{{- end }}

{{- define "llmrouter.stateVolumeMounts" -}}
{{- if include "llmrouter.redisPasswordSecretName" . }}
- name: redis-password
  mountPath: /etc/llmrouter/redis
  readOnly: true
{{- end }}
{{- end }}

{{- define "llmrouter.stateVolumes" -}}
{{- $name := include "llmrouter.redisPasswordSecretName" . }}
{{- if $name }}
{{- $key := include "llmrouter.redisPasswordSecretKey" . }}
- name: redis-password
  secret:
    secretName: {{ $name }}
    items:
      - key: {{ $key }}
        path: {{ $key }}
{{- end }}
{{- end }}
