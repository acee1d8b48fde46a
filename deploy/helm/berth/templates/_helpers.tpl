{{- define "berth.env" -}}
- name: BERTH_DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ .Values.secretName }}, key: database-url } }
- name: BERTH_BUS_URL
  valueFrom: { secretKeyRef: { name: {{ .Values.secretName }}, key: bus-url } }
- name: BERTH_CACHE_URL
  valueFrom: { secretKeyRef: { name: {{ .Values.secretName }}, key: cache-url } }
- name: BERTH_INTERNAL_TOKEN
  valueFrom: { secretKeyRef: { name: {{ .Values.secretName }}, key: internal-token } }
- name: BERTH_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- if .Values.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otlpEndpoint | quote }}
{{- end }}
{{- end -}}
