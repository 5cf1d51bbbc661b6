{{/* The chart's name, or nameOverride. */}}
{{- define "fledge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: RELEASE-fledge, or just RELEASE when it already says fledge. */}}
{{- define "fledge.fullname" -}}
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

{{- define "fledge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fledge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "fledge.labels" -}}
{{ include "fledge.selectorLabels" . }}
app.kubernetes.io/part-of: fledge
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "fledge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fledge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The one namespace watched with namespaceScope.enabled. */}}
{{- define "fledge.watchNamespace" -}}
{{- default .Release.Namespace .Values.namespaceScope.namespace }}
{{- end }}

{{- define "fledge.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace }}
{{- end }}

{{/* The Lease of this release: one per release, so that two releases never share a leader. */}}
{{- define "fledge.leaseName" -}}
{{- default (printf "%s-controller" (include "fledge.fullname" .) | trunc 63 | trimSuffix "-") .Values.leaderElection.leaseName }}
{{- end }}

{{/*
The controller's --prometheus-config file: the providers of values.prometheus.providers, their
credentials as the files the Deployment mounts from their Secrets, and the allowed addresses.
*/}}
{{- define "fledge.prometheusConfig" -}}
{{- $providers := list }}
{{- range .Values.prometheus.providers }}
{{- if and (eq .name "default") $.Values.prometheus.address }}
{{- fail "prometheus.providers names a provider \"default\" and prometheus.address sets it too: use one" }}
{{- end }}
{{- $p := dict "name" .name "address" .address }}
{{- with .timeout }}
{{- $_ := set $p "timeout" . }}
{{- end }}
{{- with .namespaces }}
{{- $_ := set $p "namespaces" . }}
{{- end }}
{{- with .auth }}
{{- $_ := set $p "auth" (dict "type" .type "file" (printf "/etc/fledge/prometheus/%s/%s" $p.name .key)) }}
{{- end }}
{{- $providers = append $providers $p }}
{{- end }}
{{- toYaml (dict "providers" $providers "allowedAddresses" .Values.prometheus.allowedAddresses) }}
{{- end }}
