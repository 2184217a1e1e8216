# syntax=docker/dockerfile:1
# GPU image: the Hono server (Node 22 LTS) + the Python sidecar with the pinned CUDA set
# (sidecar/requirements-cuda.txt) and flash-attn built against it. MODEL_ID defaults to
# openai/whisper-large-v3, downloaded on first start into the HF cache volume (/data/hf-cache).
#
#   docker build -t whisper-server .
#   docker run --gpus all -p 8000:8000 -v hf-cache:/data/hf-cache whisper-server
#
# CUDA_VERSION must have the same major version as the CUDA build of the pinned torch
# (python -c "import torch; print(torch.version.cuda)"): the build stage checks it before it
# compiles flash-attn, whose nvcc must match torch's CUDA.
ARG CUDA_VERSION=12.8.1
ARG UBUNTU=ubuntu24.04
ARG NODE_IMAGE=node:22-bookworm-slim

# ── 1. Sidecar venv: CUDA devel image (nvcc for flash-attn) ──────────────────────────────
FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS sidecar
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY sidecar/requirements-cuda.txt sidecar/requirements-flash-attn.txt sidecar/requirements-diarize.txt sidecar/
RUN python3 -m venv sidecar/.venv \
 && sidecar/.venv/bin/pip install -r sidecar/requirements-cuda.txt \
 && sidecar/.venv/bin/pip install --no-deps -r sidecar/requirements-diarize.txt
# flash-attn compiles against the torch installed above, so no build isolation; its build
# tools are pinned here. MAX_JOBS bounds the compiler's memory (about 4 GB per job).
ARG MAX_JOBS=4
RUN sidecar/.venv/bin/python -c "import sys, torch, subprocess; nvcc = subprocess.run(['nvcc', '--version'], capture_output=True, text=True).stdout; want = torch.version.cuda.split('.')[0]; ok = ('release ' + want + '.') in nvcc; print('torch CUDA', torch.version.cuda, '| nvcc', nvcc.strip().splitlines()[-1]); sys.exit(0 if ok else 'CUDA_VERSION does not match the CUDA major version of the pinned torch: rebuild with --build-arg CUDA_VERSION=' + torch.version.cuda)" \
 && sidecar/.venv/bin/pip install setuptools==84.2.1 wheel==0.48.0 ninja==1.13.2 psutil==7.2.2 \
 && MAX_JOBS=${MAX_JOBS} sidecar/.venv/bin/pip install --no-build-isolation -r sidecar/requirements-flash-attn.txt \
 && sidecar/.venv/bin/python -c "import flash_attn; print('flash_attn', flash_attn.__version__)"

# ── 2. Node dependencies (production only; the sidecar is built above, not by postinstall) ─
FROM ${NODE_IMAGE} AS node
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/ scripts/
RUN SKIP_SIDECAR_SETUP=1 npm ci --omit=dev --no-audit --no-fund

# ── 3. Runtime: CUDA runtime image, Node binary, venv, sources ───────────────────────────
FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# python3: the venv's interpreter (same Ubuntu as the build stage); ffmpeg: file uploads;
# tini: PID 1 that forwards SIGTERM to node and reaps orphans.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ffmpeg tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group app \
 && mkdir -p /data/hf-cache \
 && chown app:app /data/hf-cache
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=node --chown=app:app /app/node_modules node_modules
COPY --from=sidecar --chown=app:app /app/sidecar/.venv sidecar/.venv
COPY --chown=app:app package.json tsconfig.json ./
COPY --chown=app:app src/ src/
COPY --chown=app:app web/ web/
COPY --chown=app:app sidecar/*.py sidecar/
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DEVICE=auto \
    MODEL_ID=openai/whisper-large-v3 \
    HF_HOME=/data/hf-cache \
    SHUTDOWN_GRACE_MS=20000
VOLUME ["/data/hf-cache"]
USER app
EXPOSE 8000
# The first start downloads the model (about 3 GB for large-v3): a long start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=900s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop): the server stops accepting, drains in-flight work for
# SHUTDOWN_GRACE_MS, stops the sidecar and exits 0. Give docker stop more than that (-t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/main.ts"]
