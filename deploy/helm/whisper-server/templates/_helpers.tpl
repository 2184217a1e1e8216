{{/* Name of every object: <release>-whisper-server, or the release name if it already holds the chart name. */}}
{{- define "whisper.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "whisper.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "whisper.labels" -}}
{{ include "whisper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "whisper.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The Secret that holds API_KEYS: an existing one, the chart's own, or none (no auth). */}}
{{- define "whisper.apiKeysSecret" -}}
{{- if .Values.apiKeys.existingSecret -}}
{{ .Values.apiKeys.existingSecret }}
{{- else if .Values.apiKeys.keys -}}
{{ include "whisper.fullname" . }}-api-keys
{{- end -}}
{{- end -}}

{{/* Label matchers for the autoscaling queries: the labels a ServiceMonitor scrape attaches. */}}
{{- define "whisper.promSelector" -}}
{{- if .Values.autoscaling.metricSelector -}}
{{ .Values.autoscaling.metricSelector }}
{{- else -}}
namespace="{{ .Release.Namespace }}",service="{{ include "whisper.fullname" . }}"
{{- end -}}
{{- end -}}

{{/* Per-pod target of open streams + file requests: explicit, or a share of MAX_SESSIONS. */}}
{{- define "whisper.activeTarget" -}}
{{- if gt (int .Values.autoscaling.targetActivePerPod) 0 -}}
{{ int .Values.autoscaling.targetActivePerPod }}
{{- else -}}
{{ max 1 (div (mul (int .Values.server.maxSessions) (int .Values.autoscaling.targetUtilizationPercent)) 100) }}
{{- end -}}
{{- end -}}

{{/*
Termination budget. Kubernetes counts terminationGracePeriodSeconds from the start of preStop;
after the preStop sleep the server gets SIGTERM, serves open streams for STREAM_DRAIN_MS, then
drains model work for SHUTDOWN_GRACE_MS. Anything left at the end of the grace period is SIGKILLed.
*/}}
{{- define "whisper.checkGrace" -}}
{{- $s := .Values.shutdown -}}
{{- $needMs := add (mul (int $s.preStopSleepSeconds) 1000) (int $s.streamDrainMs) (int $s.graceMs) (mul (int $s.marginSeconds) 1000) -}}
{{- $needS := div (add $needMs 999) 1000 -}}
{{- if lt (int $s.terminationGracePeriodSeconds) (int $needS) -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds=%d is too short: it must be at least preStopSleepSeconds (%d) + streamDrainMs/1000 (%s) + graceMs/1000 (%s) + marginSeconds (%d) = %d s, or streams and model work are SIGKILLed" (int $s.terminationGracePeriodSeconds) (int $s.preStopSleepSeconds) (toString (divf (int $s.streamDrainMs) 1000)) (toString (divf (int $s.graceMs) 1000)) (int $s.marginSeconds) (int $needS)) -}}
{{- end -}}
{{- end -}}
