{{/* The name prefix of every object: the release name, plus the chart's unless it has it. */}}
{{- define "shopgraph.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "shopgraph.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one target; call with (dict "root" $ "target" $name). */}}
{{- define "shopgraph.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .target }}
{{- end -}}

{{- define "shopgraph.secretName" -}}
{{- default (printf "%s-secrets" (include "shopgraph.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{/* Seconds of a Go duration such as 25s, 2m or 1m30s. */}}
{{- define "shopgraph.seconds" -}}
{{- $d := . -}}
{{- $s := 0 -}}
{{- if regexMatch "^[0-9]+s$" $d -}}{{- $s = trimSuffix "s" $d | int -}}
{{- else if regexMatch "^[0-9]+m$" $d -}}{{- $s = mul (trimSuffix "m" $d | int) 60 -}}
{{- else if regexMatch "^[0-9]+m[0-9]+s$" $d -}}{{- $p := regexSplit "m" (trimSuffix "s" $d) -1 -}}{{- $s = add (mul (index $p 0 | int) 60) (index $p 1 | int) -}}
{{- else -}}{{- fail (printf "config.shutdownTimeout %q: use seconds or minutes, such as 25s or 1m30s" $d) -}}
{{- end -}}
{{- $s -}}
{{- end -}}
