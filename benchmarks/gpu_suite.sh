#!/usr/bin/env bash
# The CUDA checks and benchmarks in one go, for a machine with a GPU (CI has none):
#   GRAPHREC_DATA=/path/to/data OUT=results/gpu bash benchmarks/gpu_suite.sh
# Each step has its own time limit so that one slow step cannot eat the others (the
# benchmarks start a process per row, about 12-15 s each with CUDA start-up); logs go to
# $OUT/*.log, the last lines of each are printed at the end.
set -u
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${OUT:-results/gpu}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: rc $? in $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
$PY -c "import torch, torch_geometric; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/summary.txt"
step tests 120 $PY -m pytest -q -p no:cacheprovider --durations=8 tests/test_cuda.py ${TESTS_EXTRA:-tests/ops/test_backends.py}
[ -n "${SKIP_DONE:-}" ] || step neighborhoods 60 $PY benchmarks/neighborhoods.py --devices cpu,cuda --items 2048 --loop-items 64
[ -n "${SKIP_DONE:-}" ] || step walks 45 $PY benchmarks/walks.py --sizes lastfm,1e6 --kinds uniform,node2vec,restart --device cuda --repeats 3
step sequential 240 $PY benchmarks/sequential.py --device cuda --amp --steps 20 --warmup 5
step propagation 240 $PY benchmarks/propagation.py --device cuda --sizes lastfm,1e6 --dims 64 --skip-train --timeout 45
step pinsage_ml 90 $PY benchmarks/pinsage_variants.py --dataset movielens-100k --epochs 30 --model-args '{}' --train-args '{"device": "cuda"}'
for f in "$OUT"/*.log; do echo "---- $f"; tail -n 25 "$f"; done
