# Shared by the scripts/ci/setup-*.sh scripts (sourced, not run; its name is not setup-*, so
# .ci/run does not run it): log lines with the script's tag, and step timings.
#   LOG_TAG=setup-docker; source "$(dirname "$0")/lib.sh"
log() { echo "[${LOG_TAG:-ci}] $*"; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
