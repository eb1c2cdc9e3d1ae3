#!/usr/bin/env bash
# The GPU figures in three device calls of under 10 minutes each (see docs/benchmarks.md, "GPU runbook").
#
#   bash bench/gpu.sh stage      here, once: copy the shared corpora into .gpu-corpora/ (git-ignored:
#                                name it in the device call's carry list so it travels)
#   bash bench/gpu.sh speed      on the GPU: the full benchmark suite
#   bash bench/gpu.sh quality    on the GPU: shakespeare-char, then sst2-classify
#   bash bench/gpu.sh ptb        on the GPU: ptb-word, cut at 9 minutes to fit one call
#
# On the GPU machine the results files are copied to $OUT, which brings them back.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export LSTMTEXT_CORPORA="${LSTMTEXT_CORPORA:-$PWD/.gpu-corpora}"

# copy this device's results files ($1: speed or quality) to $OUT, which brings them back
back() {
  [ -n "${OUT:-}" ] || return 0
  if [ "$1" = quality ]; then cp bench/results/quality-*NVIDIA*.json "$OUT"/; else cp bench/results/NVIDIA*.json "$OUT"/; fi
}

case "${1:-}" in
  stage)
    mkdir -p .gpu-corpora
    for name in tinyshakespeare ptb sst2; do cp -r "../shared/corpora/$name" .gpu-corpora/; done
    chmod -R u+w .gpu-corpora
    du -sh .gpu-corpora
    ;;
  speed)
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python3 bench/run.py --device cuda
    back speed
    ;;
  quality)
    python3 bench/quality.py shakespeare-char --device cuda
    back quality
    python3 bench/quality.py sst2-classify --device cuda
    back quality
    ;;
  ptb)
    python3 bench/quality.py ptb-word --device cuda --tag 9min -- --time-limit 540
    back quality
    ;;
  *)
    sed -n 2,9p "$0"; exit 2 ;;
esac
