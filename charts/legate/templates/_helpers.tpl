{{/* Name of the chart, or nameOverride. */}}
{{- define "legate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name of every namespaced object. */}}
{{- define "legate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "legate.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "legate.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too: two releases of the same
name in different namespaces must not share a ClusterRole. */}}
{{- define "legate.clusterName" -}}
{{- printf "%s-%s" (include "legate.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "legate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "legate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "legate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "legate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "legate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "legate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The GatewayClass kind exists only with the Gateway API CRDs. */}}
{{- define "legate.gatewayAPIServed" -}}
{{- if or .Values.gatewayAPI.installCRDs (.Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/GatewayClass") -}}
true
{{- end -}}
{{- end -}}
