{{- define "sandbox.fullname" -}}
{{- printf "%s-sandbox" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sandbox.labels" -}}
app.kubernetes.io/name: upgradeops-sandbox
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sandbox.selector" -}}
app.kubernetes.io/name: upgradeops-sandbox
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sandbox.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The application's configuration, shared by the servers, the workers and the migration Job. */}}
{{- define "sandbox.env" -}}
- name: APP_DB_ADDRESS
  value: {{ include "sandbox.fullname" . }}-database
- name: APP_DB_PORT
  value: {{ .Values.database.port | quote }}
- name: APP_DB_DATABASE
  value: {{ .Values.database.name | quote }}
- name: APP_DB_USERNAME
  value: {{ .Values.database.user | quote }}
- name: APP_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "sandbox.fullname" . }}-database
      key: password
- name: APP_CACHE_ADDRESS
  value: {{ include "sandbox.fullname" . }}-cache
- name: APP_CACHE_PORT
  value: {{ .Values.cache.port | quote }}
{{- if .Values.config.signingKey }}
- name: APP_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "sandbox.fullname" . }}-database
      key: signing-key
{{- end }}
{{- end -}}

{{/*
The command of a server or worker container ((dict "role" "server" "Values" .Values)). With migration.waitInPods the
container waits, running but not ready, until `sandbox upgrade` (run by pod exec, as Infrahub's guide runs `infrahub
upgrade` in a server pod after helm upgrade) has brought the schema to its version, instead of exiting on an older one.
*/}}
{{- define "sandbox.command" -}}
{{- if .Values.migration.waitInPods -}}
- sh
- -c
- >-
  sandbox upgrade --check > /dev/null; [ $? -ne 2 ] ||
  echo "INFO waiting for the migration of the database schema (sandbox upgrade)";
  until sandbox upgrade --check > /dev/null; [ $? -ne 2 ]; do sleep 1; done;
  exec sandbox {{ .role }}
{{- else -}}
- sandbox
- {{ .role }}
{{- end }}
{{- end -}}

