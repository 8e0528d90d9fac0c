{{/* The shared state store (Redis) of the workers: rate limits, budgets, cooldowns and
idempotency across replicas. An existing Redis by URL (from a Secret when it carries a
password), or the bundled one (state.bundled.enabled) for trying it out. */}}

{{- define "llmrouter.redisBundledName" -}}
{{- include "llmrouter.componentName" (dict "root" . "component" "redis") }}
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
{{- if $s.redis.passwordSecret.name }}
- name: LLMROUTER_REDIS_PASSWORD_FILE
  value: {{ printf "/etc/llmrouter/redis/%s" $s.redis.passwordSecret.key | quote }}
{{- end }}
{{- end }}

{{- define "llmrouter.stateVolumeMounts" -}}
{{- if .Values.state.redis.passwordSecret.name }}
- name: redis-password
  mountPath: /etc/llmrouter/redis
  readOnly: true
{{- end }}
{{- end }}

{{- define "llmrouter.stateVolumes" -}}
{{- with .Values.state.redis.passwordSecret }}
{{- if .name }}
- name: redis-password
  secret:
    secretName: {{ .name }}
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}
{{- end }}
