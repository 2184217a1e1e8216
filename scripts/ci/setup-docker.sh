#!/usr/bin/env bash
# A Docker engine and the CPU variant of the project's image, for test/integration/image.test.ts.
# On a CI machine that can reach only the Debian mirror, PyPI and npm (no image registry):
#   1. apt: docker.io and mmdebstrap, when missing
#   2. dockerd in the background with its own data-root, exec-root, pidfile and socket under
#      $STT_CI_DOCKER_DIR (default /var/lib/stt-ci-docker), loopback only: no bridge, no iptables,
#      no ip_forward; builds and containers use --network host. A running one is reused.
#   3. base images made here, when absent: stt-ci/debian:bookworm (mmdebstrap + docker import; it
#      trusts this machine's local CAs, as egress goes through a TLS proxy) and
#      stt-ci/node:<host node version> (that image + the host's node binary and npm)
#   4. the host's torch 2.13.0+cpu wheel (pip's find-links) copied into docker/wheels/ (gitignored)
#   5. the project's Dockerfile built with VARIANT=cpu and those bases by the legacy builder
#      (no buildx in Debian 12), tagged $STT_CI_IMAGE (default stt-ci/whisper-server:cpu)
# Idempotent; each step prints its time. Run by .ci/run, or by hand: bash scripts/ci/setup-docker.sh
# Stop the engine afterwards with: kill "$(cat /var/lib/stt-ci-docker/dockerd.pid)"
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=${STT_CI_DOCKER_DIR:-/var/lib/stt-ci-docker}
IMAGE=${STT_CI_IMAGE:-stt-ci/whisper-server:cpu}
BASE=stt-ci/debian:bookworm
MIRROR=${STT_CI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=unix://$STATE/docker.sock DOCKER_BUILDKIT=0

LOG_TAG=setup-docker
# shellcheck source=lib.sh
source scripts/ci/lib.sh
total=$(now)

# ── 1. packages ─────────────────────────────────────────────────────────────────────────────
t=$(now)
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
if [ -n "$missing" ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null)
  log "apt:$missing installed in $(took "$t")"
else
  log "apt: docker.io and mmdebstrap present"
fi
# The docker.io package's client (20.10) or a newer one already on PATH: both speak API 1.41.
command -v docker >/dev/null 2>&1 || { log "no docker client on PATH"; exit 1; }

# ── 2. the engine ───────────────────────────────────────────────────────────────────────────
t=$(now)
mkdir -p "$STATE/data" "$STATE/exec"
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  log "dockerd: running ($(docker version --format '{{.Server.Version}}')), reused"
else
  rm -f "$STATE/docker.sock"
  # setsid: the engine outlives this script (the tests after it use it).
  setsid dockerd \
    --data-root "$STATE/data" --exec-root "$STATE/exec" \
    --pidfile "$STATE/dockerd.pid" -H "unix://$STATE/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
    >"$STATE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker version >/dev/null 2>&1 && break
    sleep 0.25
  done
  if ! docker version >/dev/null 2>&1; then
    log "dockerd did not come up; its log:"; tail -20 "$STATE/dockerd.log"; exit 1
  fi
  log "dockerd: started (pid $(cat "$STATE/dockerd.pid"), $(docker version --format '{{.Server.Version}}'), socket $STATE/docker.sock) in $(took "$t")"
fi

# ── 3. local base images ────────────────────────────────────────────────────────────────────
t=$(now)
if docker image inspect "$BASE" >/dev/null 2>&1; then
  log "$BASE: present"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  hooks=()
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    hooks+=(--customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"'
            --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1')
  fi
  mmdebstrap --quiet --variant=minbase --include=ca-certificates "${hooks[@]}" bookworm "$work/rootfs.tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb ${MIRROR%/debian}/debian-security bookworm-security main"
  docker import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' "$work/rootfs.tar" "$BASE" >/dev/null
  rm -rf "$work"; trap - EXIT
  log "$BASE: made with mmdebstrap + docker import in $(took "$t")"
fi

t=$(now)
node_version=$(node --version)
NODE_BASE=stt-ci/node:${node_version#v}-bookworm
if docker image inspect "$NODE_BASE" >/dev/null 2>&1; then
  log "$NODE_BASE: present"
else
  # Debian 12's nodejs is 18, older than engines.node: the host's Node and npm instead.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp "$(readlink -f "$(command -v node)")" "$work/node"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  cp -r "$npm_dir" "$work/npm"
  cat >"$work/Dockerfile" <<EOF
FROM $BASE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EOF
  docker build -q -t "$NODE_BASE" "$work" >/dev/null
  rm -rf "$work"; trap - EXIT
  log "$NODE_BASE: made from the host's node $node_version in $(took "$t")"
fi

# ── 4. the CPU torch wheel into the build context ───────────────────────────────────────────
t=$(now)
wheel=""
for dir in ${PIP_FIND_LINKS:-} $(python3 -m pip config list 2>/dev/null | sed -n "s/.*find-links='\(.*\)'/\1/p") /opt/wheels; do
  for f in "$dir"/torch-2.13.0+cpu-cp311-*.whl; do [ -f "$f" ] && { wheel=$f; break 2; }; done
done
if [ -z "$wheel" ]; then
  log "no torch-2.13.0+cpu-cp311 wheel in pip's find-links: the build would need --build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu"
  exit 1
fi
dest=$ROOT/docker/wheels/$(basename "$wheel")
if [ -f "$dest" ] && cmp -s "$wheel" "$dest"; then
  log "wheel: $(basename "$wheel") already in docker/wheels/"
else
  ln -f "$wheel" "$dest" 2>/dev/null || cp "$wheel" "$dest"
  log "wheel: $(basename "$wheel") copied into docker/wheels/ in $(took "$t")"
fi

# ── 5. the image ────────────────────────────────────────────────────────────────────────────
t=$(now)
# The build's RUN steps get a low CPU share (the legacy builder's --cpu-shares) and the client runs
# niced, so a build on a shared machine yields to everything else.
nice -n 19 docker build --network host --cpu-shares 64 -t "$IMAGE" \
  --build-arg VARIANT=cpu --build-arg MODEL_ID= \
  --build-arg SIDECAR_BASE="$BASE" --build-arg RUNTIME_BASE="$BASE" --build-arg NODE_IMAGE="$NODE_BASE" \
  . >"$STATE/build.log" 2>&1 || {
    # Untag the previous image, so that no test runs against a build of older sources.
    docker rmi "$IMAGE" >/dev/null 2>&1 || true
    log "docker build failed; $IMAGE untagged; the end of its log ($STATE/build.log):"; tail -40 "$STATE/build.log"; exit 1
  }
cached=$(grep -c 'Using cache' "$STATE/build.log" || true)
steps=$(grep -c '^Step ' "$STATE/build.log" || true)
size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.2f GB", $1 / 1e9 }')
log "$IMAGE: built in $(took "$t") ($steps steps, $cached from cache, $size; log $STATE/build.log)"
# No `docker image prune`: the legacy builder leaves the sidecar and node stages untagged, and
# pruning them would throw away the cache that makes the next build take seconds.
log "done in $(took "$total")"
