#!/usr/bin/env bash
# Every GPU figure of issue #23 in one prepared run (<= 8 minutes on one H100/H200), then one
# table of goal vs measured.
#
#   OUT=/tmp/gpu bash scripts/gpu_check.sh              # on the GPU machine ($OUT is set there)
#   GPU_CHECK_TINY=1 OUT=/tmp/tiny bash scripts/gpu_check.sh   # dry run on a CPU: tiny sizes
#
# Parts, each under its own `timeout`, in this order: env, runner (every network of the gpu
# experiment's depths 20/56/110 x plain/residual x 3 seeds at issue #23's recipe, 20,000 images,
# 6 epochs, through the concurrent runner, train/concurrent.py: goal <= 90 s; vs one at a time,
# timed on seed 0 for one epoch and scaled; then, one epoch each, the runner unstacked (one model
# per group: no vmap), without streams and without graphs), train (bench_train: ResNet-20/56 at
# batch 128 and 512, eager vs compile="graphs"), compile (torch.compile reduce-overhead, ResNet-20),
# probe (probe vs bare forward+backward, ResNet-20/56/110, then a profile of each: syncs, ops),
# landscape (51x51 of the shipped depth-56 twin, 5,000 images), experiment (make_assets.py
# --experiment gpu --depths 20,56, the rest of the time: at least ~230 s when the parts before
# it take what they typically do). The whole run stays under GPU_CHECK_TOTAL_S (470 s): a
# part's limit is cut to what is left, and a part that runs out prints how far it got.
# Output as it goes: $OUT/log.txt (everything), $OUT/table.txt (the table), and the experiment's
# results in $OUT/assets/degradation-gpu/ (results.json, table.csv, runs.csv, curves.csv: copy the
# folder into assets/). The device tool brings back at most 8 files, two folders down: these are 6.
# The experiment runs through the same runner (run_degradation together=None on CUDA); at its
# recipe (30,000 images, 30 epochs) it may not finish in what is left: GPU_CHECK_SKIP="train
# compile probe landscape" gives it most of the run.
# Options: GPU_CHECK_SKIP="compile runner" skips parts; GPU_CHECK_DEPTHS=20,56,110 (default 20,56)
# sets the experiment's depths; GPU_CHECK_TOTAL_S the whole run's limit.
# Wheels in .whl/ (streamlit, captum, ...) are installed to /tmp/site first when present; the
# benchmarks and the experiment need only torch, numpy and pandas.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT/assets"
LOG="$OUT/log.txt"
: >"$LOG"
TINY=${GPU_CHECK_TINY:-0}
TOTAL=${GPU_CHECK_TOTAL_S:-470}
SKIP=" ${GPU_CHECK_SKIP:-} "
START=$SECONDS
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi

# part NAME LIMIT_S COMMAND...: run it under its limit (cut to the time left), log as it goes.
part() {
  local name=$1 limit=$2 left t0 rc
  shift 2
  if [[ $SKIP == *" $name "* ]]; then echo "PART $name 0 0" | tee -a "$LOG"; return; fi
  left=$((TOTAL - (SECONDS - START)))
  ((limit > left)) && limit=$left
  if ((limit < 5)); then echo "PART $name 124 0" | tee -a "$LOG"; return; fi
  echo "=== $name (limit ${limit} s, $((SECONDS - START)) s in): $*" | tee -a "$LOG"
  t0=$SECONDS
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  echo "PART $name $rc $((SECONDS - t0))" | tee -a "$LOG"
}

if [[ $TINY == 1 ]]; then  # a CPU dry run: every part, tiny sizes
  DEV=cpu
  TRAIN=(--depth 8 --width 4 --size 8 --steps 3 --naive-steps 2 --repeats 1 --threads 1)
  BATCHES=(16 32)
  RUNNER=(--runner --device cpu --budget gpu --depths 8 --width 4 --size 8 --seed-list 0,1 --n-train 64 --batch 16 --epochs 1 --variants unstacked --threads 1)
  PROBE=(--devices cpu --models resnet20 --batch 2 --warmup 0 --repeats 1 --threads 1 --profile)
  LAND=(--device cpu --grid 3 --depth 20 --images 32 --skip-plain)
  EXP=(--experiment cpu-live --depths "${GPU_CHECK_DEPTHS:-20}" --seeds 0 --epochs 1 --threads 1)
else
  DEV=cuda
  TRAIN=(--depth 20 56 --steps 100 --naive-steps 30 --repeats 2)
  BATCHES=(128 512)
  RUNNER=(--runner --device cuda --budget gpu --depths 20,56,110 --n-train 20000 --epochs 6 --variants unstacked,serial,eager)
  PROBE=(--devices cuda --repeats 20 --profile)  # + syncs, ops and host time per call (profiler)
  LAND=(--device cuda --grid 51 --depth 56 --images 5000 --skip-plain)
  # depths 20 and 56 by default: with 110 the experiment took ~11 minutes one network at a time
  # (issue #23), more than this run has left; GPU_CHECK_DEPTHS=20,56,110 asks for all three
  EXP=(--experiment gpu --depths "${GPU_CHECK_DEPTHS:-20,56}")
fi

part env 30 $PY -c "import torch, resnet_explain.experiments.degradation as d; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
train_all() {
  for b in "${BATCHES[@]}"; do
    $PY scripts/bench_train.py --device $DEV --batch "$b" "${TRAIN[@]}"
    $PY scripts/bench_train.py --device $DEV --batch "$b" "${TRAIN[@]}" --compile graphs
  done
}
compile_all() {  # torch.compile needs a C++ compiler and minutes on a CPU: GPU only
  [[ $TINY == 1 ]] && { echo "compile: skipped in tiny mode"; return 0; }
  # batch 128 only (the launch-bound goal): each compile takes about a minute
  $PY scripts/bench_train.py --device $DEV --batch "${BATCHES[0]}" --depth 20 --steps 100 \
    --naive-steps 10 --repeats 1 --compile reduce-overhead
}
export -f train_all compile_all
export DEV TINY PY
export TRAIN_S="${TRAIN[*]}" BATCHES_S="${BATCHES[*]}"
# exported functions cannot see arrays: rebuild them inside
part runner 210 $PY scripts/bench_many.py "${RUNNER[@]}"
part train 100 bash -c 'TRAIN=($TRAIN_S); BATCHES=($BATCHES_S); train_all'
part compile 60 bash -c 'BATCHES=($BATCHES_S); compile_all'
part probe 55 $PY scripts/bench_probe.py "${PROBE[@]}"
part landscape 45 $PY scripts/bench_landscape.py "${LAND[@]}"
part experiment 600 $PY scripts/make_assets.py "${EXP[@]}" --no-runs --out "$OUT/assets/degradation-gpu"

echo
echo "=== goal vs measured ($((SECONDS - START)) s in all)"
$PY scripts/gpu_table.py --log "$LOG" --results "$OUT/assets/degradation-gpu/results.json" \
  --out "$OUT/table.txt"
