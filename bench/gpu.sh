#!/usr/bin/env bash
# The GPU figures, one target a device call of under 10 minutes (see docs/benchmarks.md, "GPU runbook").
#
#   bash bench/gpu.sh stage      here, once: copy the shared corpora into .gpu-corpora/ (git-ignored:
#                                name it in the device call's carry list so it travels)
#   bash bench/gpu.sh cuda-tests on the GPU: the tests that need CUDA (graph steps and graph decoding), ~2 minutes;
#                                the log: bench/results/cuda-tests-<GPU>-<date>-<time>.log
#   bash bench/gpu.sh speed      on the GPU: the full benchmark suite
#   bash bench/gpu.sh quality    on the GPU: shakespeare-char, then sst2-classify
#   bash bench/gpu.sh ptb        on the GPU: ptb-word, cut at 9 minutes to fit one call
#   bash bench/gpu.sh ptb-ema    on the GPU: ptb-word with --ema 0.999 (-12 ppl on the CPU preset), cut at 9 minutes
#   bash bench/gpu.sh ptb-adaptive on the GPU: the CUDA tests of the adaptive softmax (seconds), then ptb-word with
#                                --adaptive-softmax (2.6x the steps on the CPU preset), cut at 9 minutes
#   bash bench/gpu.sh awd        on the GPU: ptb-word-awd (AWD's shape and lr 30, NT-ASGD as a CUDA graph), 9 minutes
#   bash bench/gpu.sh awd-more   on the GPU, the next call while the machine is warm: 9 minutes more of it
#   bash bench/gpu.sh large-asgd on the GPU: ptb-word-large with NT-ASGD at a constant lr 20, cut at 9 minutes
#   bash bench/gpu.sh sst2-sweep on the GPU: 12 variants of sst2-classify (--adversarial on and off, its
#                                strength, seeds) and a summary of them
#   bash bench/gpu.sh sst2-lms   on the GPU: forward and backward language models of the SST-2 training
#                                sentences, ~1 minute
#   bash bench/gpu.sh sst2-finetune on the GPU, the next call while the machine is warm: sst2-classify from
#                                them with --freeze-epochs 1 --pretrained-lr 0.3 (forward only: three seeds
#                                with concat pooling, three with mean; both directions: two seeds), ~6.5 minutes
#   bash bench/gpu.sh sst2-transfer both, in one go (~7.5 minutes on an H100: one call, with little to spare)
#   bash bench/gpu.sh sst2-ensemble sst2-lms, then eight seeds of sst2-finetune's recipe and their ensembles
#                                (bench/ensemble.py), ~8 minutes
#   bash bench/gpu.sh sst2-distill sst2-lms, five --ema teachers, five students --distill-from them, scored
#                                alone and the teachers as an ensemble (bench/ensemble.py), ~9 minutes
#   bash bench/gpu.sh large-ablation TAG FLAGS...  on the GPU: ptb-word-large with FLAGS added (one AWD
#                                regulariser: --variational-dropout, --weight-drop 0.5, ...), cut at 9 minutes
#
# On the GPU machine the results files a call writes are packed into $OUT, which brings them back.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export LSTMTEXT_CORPORA="${LSTMTEXT_CORPORA:-$PWD/.gpu-corpora}"
stamp=$(date +%Y-%m-%d-%H%M%S)  # names this call's archive: two calls' archives never share a name
started=$(mktemp)  # results files newer than this are this call's
trap 'rm -f "$started"' EXIT

# pack this call's results files into one archive in $OUT, which brings it back (a call returns at most 8 files,
# and a sweep writes more). Two calls on fresh copies of the checkout can write files of the same name, so unpack
# each here with -k, which refuses to replace a file that is there and names it: tar xzkf FILE -C bench/results
back() {
  [ -n "${OUT:-}" ] || return 0
  (cd bench/results && find . -maxdepth 1 -name '*NVIDIA*' -newer "$started" \
    | tar czf "$OUT/results-$1-$stamp.tgz" -T -)
}

# the targets that train on the staged corpora: say how to stage them (quality.py would send one to ../shared)
staged() {
  [ -d "$LSTMTEXT_CORPORA" ] && return 0
  echo "error: $LSTMTEXT_CORPORA is not here: run \`bash bench/gpu.sh stage\` first, and carry .gpu-corpora" >&2
  exit 2
}
case "${1:-}" in
  large-ablation)
    [ $# -ge 2 ] || { echo "usage: bash bench/gpu.sh large-ablation TAG FLAGS..." >&2; exit 2; }
    staged ;;
  quality|ptb|ptb-ema|ptb-adaptive|awd|awd-more|large-asgd|sst2-*) staged ;;
esac

case "${1:-}" in
  stage)
    mkdir -p .gpu-corpora
    for name in tinyshakespeare ptb sst2; do cp -r "../shared/corpora/$name" .gpu-corpora/; done
    chmod -R u+w .gpu-corpora
    du -sh .gpu-corpora
    ;;
  cuda-tests)
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' -) || true
    log="bench/results/cuda-tests-${gpu:-NVIDIA}-$stamp.log"
    status=0
    python3 -m pytest -p no:cacheprovider tests/test_graphs.py tests/test_sampling.py tests/test_resume.py \
      tests/test_classify.py tests/test_training.py -k "cuda or graph" 2>&1 | tee "$log" || status=$?
    back cuda-tests
    exit "$status"
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
  ptb-ema)
    python3 bench/quality.py ptb-word --device cuda --tag ema-9min -- --ema 0.999 --time-limit 540
    back quality
    ;;
  ptb-adaptive)
    python3 -m pytest -p no:cacheprovider tests/test_graphs.py tests/test_sampling.py -k "adaptive or cutoffs"
    python3 bench/quality.py ptb-word --device cuda --tag adaptive-9min -- --adaptive-softmax --time-limit 540
    back quality
    ;;
  awd)
    python3 bench/quality.py ptb-word-awd --device cuda --tag 9min -- --time-limit 540
    back quality
    ;;
  large-asgd)
    python3 bench/quality.py ptb-word-large --device cuda --tag asgd-9min -- --optimizer asgd --schedule constant \
      --time-limit 540
    back quality
    ;;
  awd-more)
    python3 bench/quality.py ptb-word-awd --device cuda --tag 9min --resume -- --time-limit 1080  # the run's total
    back quality
    ;;
  sst2-sweep)
    # variants of sst2-classify (adversarial training, its strength, and seeds), about 20 s each with CUDA
    # graphs; one summary of this sweep's runs in bench/results
    variants='seed2 --seed 2
seed3 --seed 3
adv0 --adversarial 0
adv0-seed2 --adversarial 0 --seed 2
adv0-seed3 --adversarial 0 --seed 3
adv3 --adversarial 3
adv8 --adversarial 8
adv8-seed2 --adversarial 8 --seed 2
adv8-seed3 --adversarial 8 --seed 3
adv12 --adversarial 12
h512 --hidden-size 512
attn --pooling attention'
    tags=""
    while read -r tag flags; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "$tag" -- $flags | tail -1
      tags="$tags $tag"
    done <<< "$variants"
    TAGS="$tags" python3 - <<'PY'
import glob, json, os, time
wanted = {""} | set(os.environ["TAGS"].split())
rows = []
for f in sorted(glob.glob("bench/results/quality-sst2-classify-*NVIDIA*.json")):
    d = json.load(open(f))
    if (d["tag"] or "") not in wanted:
        continue
    rows.append({"tag": d["tag"], "command": d["command"], "train_seconds": d["train_seconds"],
                 "valid_accuracy": d["figures"]["valid"]["accuracy"], "test_accuracy": d["figures"]["test"]["accuracy"]})
    print(f'{d["tag"] or "preset":14} valid {rows[-1]["valid_accuracy"]:.4f} test {rows[-1]["test_accuracy"]:.4f}')
out = f"bench/results/sweep-sst2-classify-{d['device']}-{time.strftime('%Y-%m-%d')}.json"
json.dump({"runs": rows}, open(out, "w"), indent=1)
if os.environ.get("OUT"):
    json.dump({"runs": rows}, open(os.path.join(os.environ["OUT"], os.path.basename(out)), "w"), indent=1)
PY
    back sweep
    ;;
  sst2-lms)
    # the forward and backward language models of the SST-2 training sentences that sst2-finetune starts from
    lm_flags="--task lm --level word --lowercase --embed-dim 256 --hidden-size 256 --layers 1 --dropout 0.5
      --embed-dropout 0.1 --variational-dropout --weight-drop 0.3 --seq-len 64 --batch-size 32 --epochs 40
      --time-limit 120 --device cuda --quiet --overwrite"
    sentences="$LSTMTEXT_CORPORA/sst2/sentences"
    # shellcheck disable=SC2086
    python3 -m lstmtext train "$sentences" $lm_flags --out checkpoints/sst2-lm-fw | tail -14
    # shellcheck disable=SC2086
    python3 -m lstmtext train "$sentences" $lm_flags --reverse --init-from checkpoints/sst2-lm-fw --freeze-embedding \
      --out checkpoints/sst2-lm-bw | tail -14
    ;;
  sst2-finetune)
    # ULMFiT on SST-2 from sst2-lms's models (run it first, on the same warm machine): the issue's --init-from
    # target (87.5% valid). The CPU's best recipe (freeze one epoch, pretrained layers at 0.3 of --lr), three
    # seeds with the preset's concat pooling and three with mean pooling, then with the backward direction
    # pretrained as well
    base="--init-from checkpoints/sst2-lm-fw --freeze-epochs 1 --pretrained-lr 0.3"
    variants="fz1-plr03 $base --bidirectional
fz1-plr03-seed2 $base --bidirectional --seed 2
fz1-plr03-seed3 $base --bidirectional --seed 3
fz1-plr03-mean $base --bidirectional --pooling mean
fz1-plr03-mean-seed2 $base --bidirectional --pooling mean --seed 2
fz1-plr03-mean-seed3 $base --bidirectional --pooling mean --seed 3
fwbw-fz1-plr03 $base --init-backward-from checkpoints/sst2-lm-bw
fwbw-fz1-plr03-seed2 $base --init-backward-from checkpoints/sst2-lm-bw --seed 2"
    while read -r tag flags; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "$tag" -- $flags | tail -1
    done <<< "$variants"
    back quality
    ;;
  sst2-transfer)
    # both of the above in one call (about 7.5 minutes on an H100)
    bash "$0" sst2-lms
    bash "$0" sst2-finetune
    ;;
  sst2-ensemble)
    # the --init-from target as an ensemble: sst2-lms's models, then five seeds of sst2-finetune's best recipe
    # (forward LM, concat pooling) and three with both directions pretrained, scored alone and as ensembles
    # (lstmtext evaluate --ensemble); the five-seed ensemble is the figure named in advance (~8 minutes; each
    # run's own figures are in its quality file, so only the ensembles are scored here)
    bash "$0" sst2-lms
    base="--init-from checkpoints/sst2-lm-fw --freeze-epochs 1 --pretrained-lr 0.3"
    five="" three=""
    for seed in 1 2 3 4 5; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "ens-fw-seed$seed" -- $base --bidirectional \
        --seed $seed | tail -1
      five="$five,checkpoints/quality-sst2-classify-ens-fw-seed$seed"
    done
    back quality
    for seed in 1 2 3; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "ens-fwbw-seed$seed" -- $base \
        --init-backward-from checkpoints/sst2-lm-bw --seed $seed | tail -1
      three="$three,checkpoints/quality-sst2-classify-ens-fwbw-seed$seed"
    done
    back quality
    python3 bench/ensemble.py --device cuda --group "the five forward-LM seeds=${five#,}" \
      --group "the three fw+bw seeds=${three#,}" --group "all eight=${five#,}$three"
    back quality
    ;;
  sst2-distill)
    # one model at an ensemble's accuracy (--distill-from): sst2-lms's forward model; five teachers, the
    # ensemble recipe of sst2-ensemble with --ema 0.999; then five students of the same recipe that also learn
    # from all five teachers, each seed paired with the teacher of that seed (~9 minutes). Each run's figures are in
    # its quality file; the two groups are scored as ensembles. The figure named in advance: the five students'
    # mean dev accuracy. First, in seconds, the CUDA test of the distilling classifier's graph step against its
    # eager twin (the graph code changed on 12-03, after the last GPU session): a failure stops here, before
    # nine minutes are spent
    python3 -m pytest -q -p no:cacheprovider tests/test_graphs.py -k "cuda_graphs_train_the_classifier"
    bash "$0" sst2-lms
    base="--init-from checkpoints/sst2-lm-fw --freeze-epochs 1 --pretrained-lr 0.3 --bidirectional --ema 0.999"
    teachers="" from="" students=""
    for seed in 1 2 3 4 5; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "ema-fw-seed$seed" -- $base --seed $seed | tail -1
      teachers="$teachers,checkpoints/quality-sst2-classify-ema-fw-seed$seed"
      from="$from --distill-from checkpoints/quality-sst2-classify-ema-fw-seed$seed"
    done
    back quality
    for seed in 1 2 3 4 5; do
      # shellcheck disable=SC2086
      python3 bench/quality.py sst2-classify --device cuda --tag "kd-fw-seed$seed" -- $base $from --seed $seed \
        | tail -1
      students="$students,checkpoints/quality-sst2-classify-kd-fw-seed$seed"
    done
    back quality
    python3 bench/ensemble.py --device cuda --tag distill --group "teachers=${teachers#,}" \
      --group "students=${students#,}"
    back quality
    ;;
  large-ablation)
    # ptb-word-large (NT-ASGD) with one more AWD regulariser, for the ablation: large-ablation TAG FLAGS...
    tag="$2"; shift 2
    python3 bench/quality.py ptb-word-large --device cuda --tag "$tag" -- "$@" --time-limit 540
    back quality
    ;;
  *)
    [ -z "${1:-}" ] || echo "error: unknown target ${1}; the targets:" >&2
    sed -n '2,/^set -euo/{/^#/p}' "$0" >&2; exit 2 ;;
esac
