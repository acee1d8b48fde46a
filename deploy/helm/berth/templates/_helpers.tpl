{{- /* Environment shared by every service; call with (dict "root" $ "service" "NAME"). */ -}}
{{- define "berth.env" -}}
{{- $root := .root -}}
- name: BERTH_DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ $root.Values.secretName }}, key: {{ .service }}-database-url } }
- name: BERTH_REPLICA
  valueFrom: { fieldRef: { fieldPath: metadata.name } }
- name: BERTH_BUS_URL
  valueFrom: { secretKeyRef: { name: {{ $root.Values.secretName }}, key: bus-url } }
- name: BERTH_CACHE_URL
  valueFrom: { secretKeyRef: { name: {{ $root.Values.secretName }}, key: cache-url } }
- name: BERTH_INTERNAL_TOKEN
  valueFrom: { secretKeyRef: { name: {{ $root.Values.secretName }}, key: internal-token } }
- name: BERTH_LOG_FORMAT
  value: {{ $root.Values.logFormat | quote }}
{{- if $root.Values.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otlpEndpoint | quote }}
{{- end }}
{{- end -}}

{{- /* The registry token signing key, for services that sign tokens. */ -}}
{{- define "berth.signer.env" -}}
- name: BERTH_TOKEN_SIGNING_KEY_FILE
  value: /etc/berth/token-signer/token-key.pem
{{- end -}}
{{- define "berth.signer.volume" -}}
- name: token-signer
  secret: { secretName: {{ .Values.tokenSigningSecret }} }
{{- end -}}
{{- define "berth.signer.mount" -}}
- { name: token-signer, mountPath: /etc/berth/token-signer, readOnly: true }
{{- end -}}
