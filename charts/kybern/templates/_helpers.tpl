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
kybern.cidrBounds prints the first and last address of an IPv4 CIDR as two integers, and
a third, 1 when the address has host bits set.
*/}}
{{- define "kybern.cidrBounds" -}}
{{- $parts := split "/" . }}
{{- $ip := splitList "." $parts._0 }}
{{- $n := add (mul (int (index $ip 0)) 16777216) (mul (int (index $ip 1)) 65536) (mul (int (index $ip 2)) 256) (int (index $ip 3)) }}
{{- $size := 1 }}
{{- range until (sub 32 (int $parts._1) | int) }}{{ $size = mul $size 2 }}{{ end }}
{{- $start := mul (div $n $size) $size }}
{{- printf "%d %d %d" $start (sub (add $start $size) 1) (ternary 1 0 (ne $start $n)) }}
{{- end }}

{{/*
kybern.checks fails the release on values that cannot work: the manager's RBAC names
its leader election namespace, kybern-system, and the pod and service ranges must be
networks apart from each other.
*/}}
{{- define "kybern.checks" -}}
{{- if ne .Release.Namespace "kybern-system" }}
{{- fail (printf "kybern installs into the namespace kybern-system, where its manager's Role and Lease are, not %q: helm install kybern charts/kybern --namespace kybern-system --create-namespace" .Release.Namespace) }}
{{- end }}
{{- $pods := splitList " " (include "kybern.cidrBounds" .Values.clusterCIDR) }}
{{- $services := splitList " " (include "kybern.cidrBounds" .Values.serviceClusterIPRange) }}
{{- if eq (index $pods 2) "1" }}
{{- fail (printf "clusterCIDR %s has host bits set: give the network address" .Values.clusterCIDR) }}
{{- end }}
{{- if eq (index $services 2) "1" }}
{{- fail (printf "serviceClusterIPRange %s has host bits set: give the network address" .Values.serviceClusterIPRange) }}
{{- end }}
{{- if and (le (int64 (index $services 0)) (int64 (index $pods 1))) (le (int64 (index $pods 0)) (int64 (index $services 1))) }}
{{- fail (printf "serviceClusterIPRange %s overlaps clusterCIDR %s, the pod range: choose ranges apart, such as the defaults 10.96.0.0/16 and 10.244.0.0/16" .Values.serviceClusterIPRange .Values.clusterCIDR) }}
{{- end }}
{{- end }}
