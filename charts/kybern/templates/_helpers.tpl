{{/* The manager's name: its Deployment, ServiceAccount and Services are named from it. */}}
{{- define "kybern.name" -}}kybern-manager{{- end }}

{{- define "kybern.labels" -}}
app.kubernetes.io/name: kybern
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "kybern.selector" -}}
app.kubernetes.io/name: kybern
app.kubernetes.io/component: manager
{{- end }}

{{- define "kybern.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
kybern.checks fails the release on values that cannot work: the manager's RBAC names
its leader election namespace, kybern-system, and the service range must stay outside the
pod range.
*/}}
{{- define "kybern.checks" -}}
{{- if ne .Release.Namespace "kybern-system" }}
{{- fail (printf "kybern installs into the namespace kybern-system, where its manager's Role and Lease are, not %q: helm install kybern charts/kybern --namespace kybern-system --create-namespace" .Release.Namespace) }}
{{- end }}
{{- if hasPrefix "10.244." .Values.serviceClusterIPRange }}
{{- fail (printf "serviceClusterIPRange %s overlaps the pod range 10.244.0.0/16: choose another, such as 10.96.0.0/16" .Values.serviceClusterIPRange) }}
{{- end }}
{{- end }}
