#!/usr/bin/env bash
# The CUDA tests and the GPU figures in one run, for a lent GPU machine that has PyTorch, its
# usual scientific packages and pytest-xdist but not this project's venv (no Flower, no
# otter-grader, no Jupyter Book: the tests that need them are left out here; they run on the CPU
# in `python3 dev.py test`). Opacus travels as a wheel in .whl/ when the machine lacks it:
#
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl opacus==1.6.0
#   bash benchmarks/on_gpu.sh            # about 9 minutes on an H200; logs in $OUT or out/gpu
#   STEPS="cuda_tests malicious" bash benchmarks/on_gpu.sh      # only these steps
#   ONLY="40 110 250" bash benchmarks/on_gpu.sh    # DLG's speed on these photos only (a shorter run)
#
# Each step has its own time limit, most important first, so that a slow step costs only itself.
set -u
cd "$(dirname "$0")/.."
LOGS=${OUT:-out/gpu}
mkdir -p "$LOGS"
if ! python3 -c "import opacus" 2>/dev/null && ls .whl/opacus-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg

step() {  # step NAME SECONDS COMMAND...: run, log to $LOGS/NAME.log, say how long it took
    local name=$1 limit=$2; shift 2
    [[ -z ${STEPS:-} || " $STEPS " == *" $name "* ]] || return 0
    local started=$SECONDS
    echo "=== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
    local rc=$?
    tail -n "${TAIL:-25}" "$LOGS/$name.log"
    echo "=== $name: exit $rc after $((SECONDS - started)) s"
}

nvidia-smi -L
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision',
torchvision.__version__, torch.cuda.get_device_name(), torch.get_num_threads(), 'threads')"

NEEDS_EXTRAS=(--ignore=tests/federation --ignore=tests/test_book.py --ignore=tests/classroom
              --ignore=tests/test_assignments.py --ignore=tests/cli/test_flower.py
              --ignore=tests/cli/test_grade.py --ignore=tests/test_notebook_client.py)
PYTEST=(python3 -m pytest -q -p no:cacheprovider -o "addopts=--import-mode=importlib -ra"
        --continue-on-collection-errors "${NEEDS_EXTRAS[@]}")

# 1. Every test that runs on CUDA (the `device` fixture's cuda half and the `cuda` fixture).
TAIL=40 step cuda_tests 180 "${PYTEST[@]}" -n 8 -k cuda tests
# 2. The rest of the suite that runs without the extras, on a machine where `auto` means CUDA
#    (this machine's torch, not the pinned one: a figure that moves with the version shows here).
TAIL=30 step suite 200 "${PYTEST[@]}" -n 16 tests
# 3. DLG against the original loop, both on the GPU (the CPU figures are in benchmarks/README.md);
#    the original is slower there than on a CPU (about 3.5 min for the 8 images on an H200), so
#    the whole processes are timed on 3 of them.
TAIL=16 step dlg_speed 300 python3 benchmarks/dlg_speed.py --device cuda --no-process \
    ${ONLY:+--only $ONLY}
TAIL=6 step dlg_process 150 python3 benchmarks/dlg_speed.py --device cuda --process-only \
    --only 40 110 250
# 4. The malicious server on the GPU.
TAIL=22 step malicious 90 python3 benchmarks/malicious_server.py --device cuda
# 5. A batch of 8 photos on the GPU: DLG and IG, one batch.
TAIL=8 step batches 150 python3 benchmarks/dlg_batches.py --device cuda --sizes 8 --batches 1
