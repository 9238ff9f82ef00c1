#!/usr/bin/env bash
# Issue 12's GPU measurements in one prepared command, for a session lent a GPU machine (one
# H100 or H200, Python 3.12 with JAX (CUDA) and torch, no Keras, TensorFlow or Jupyter, no
# package registry; 15 minutes of device time in all, starting included, at most 10 a command).
#
# Here, first (writes .gpu-wheels/ and .gpu-data/mnist/, both kept out of git):
#     bench/gpu_session.sh prepare
# Then one device call, carrying those two folders (about 45 MiB with the repository; the
# limit is 64), timeout_s 600:
#     bash bench/gpu_session.sh run [STEP ...]
# STEP, in the order given (default: cold warm lesson initializers):
#   cold          --recipe fast from an empty JAX cache, three times, each in a new process:
#                 time to 99% from the start of fit (target: within 3 s)
#   warm          the same once more with the cache filled, then plain Keras (one process each)
#   lesson        lesson 01 on full data, from an empty cache then again (target: within 90 s)
#   initializers  bench/choices/test_initializers.py --repeat 1: building and loading the lessons' models,
#                 Keras' initializers against a program per layer (what nbmnist does on a CPU)
#   lesson-per-layer  lesson 01 from an empty cache with the CPU's per-layer initialization
#                 switched on for the GPU (an IPython startup file in the kernel): to decide
#                 whether JAX_INITIALIZER_OPTIONS should name "gpu" (about 2 minutes)
#   throughput    seconds per epoch, nbmnist against plain model.fit, JAX and PyTorch
# Each step's output goes to $OUT/<step>.log (and JSON where the benchmark writes it), with
# nvidia-smi's device line; a step stops after its own time limit so the next ones still run.
# Figures go to docs/performance.md with the device's name and this command.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = prepare ]; then
    ../shared/gpu/wheels.sh .gpu-wheels
    # what nbmnist and its benchmarks need beyond those: pydantic (the run record), pytest and
    # pytest-benchmark (bench/ modules import them)
    pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
        -d .gpu-wheels pydantic pytest pytest-benchmark 2>&1 | grep -v "is ignored" || true
    ( cd .gpu-wheels && rm -f typing_extensions-* packaging-* pygments-* )
    mkdir -p .gpu-data .git/info
    cp -r ../shared/data/mnist .gpu-data/
    grep -qxF "/.gpu-data/" .git/info/exclude || echo "/.gpu-data/" >> .git/info/exclude
    du -sh --exclude=.git --exclude=.venv --exclude=.venv-colab --exclude=.venv-colab-runtime .
    exit 0
fi
[ "${1:-}" = run ] || { echo "usage: $0 prepare | run [STEP ...]" >&2; exit 2; }
shift
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(cold warm lesson initializers)
out=${OUT:-build/gpu-session}
mkdir -p "$out"

python3 -m pip install -q --no-index --no-deps .gpu-wheels/*.whl \
    && python3 -m pip install -q --no-deps --no-build-isolation -e . \
    || { echo "installing the carried wheels failed" >&2; exit 1; }
export KERAS_BACKEND=jax NBMNIST_DATA=$PWD/.gpu-data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"

step() {  # step NAME SECONDS COMMAND...: run COMMAND under a time limit, log to $out/NAME.log
    local name=$1 limit=$2
    shift 2
    local began=$SECONDS
    echo "== $name (limit ${limit} s): $*"
    timeout -k 30 "$limit" "$@" > "$out/$name.log" 2>&1  # then SIGKILL, if still running
    echo "== $name: exit $?, $((SECONDS - began)) s"
    grep -v -i -e warning -e '^ *warnings.warn' "$out/$name.log" | tail -n 25
}

for name in "${steps[@]}"; do
    case $name in
    cold)
        for run in 1 2 3; do
            step "cold-$run" 120 python3 -m bench.gpu --backends jax --tasks "nbmnist cold" \
                --out "$out/cold-$run.json"
        done ;;
    warm)
        step warm 150 python3 -m bench.gpu --backends jax \
            --tasks "nbmnist cold" "nbmnist warm" "plain keras" --out "$out/warm.json" ;;
    lesson)
        step lesson 330 python3 -m bench.gpu --backends jax --tasks none --lesson \
            --out "$out/lesson.json" ;;
    initializers)
        step initializers 200 python3 -m bench.choices.test_initializers --repeat 1 ;;
    lesson-per-layer)
        ipython_dir=$(mktemp -d)
        mkdir -p "$ipython_dir/profile_default/startup"
        echo 'from nbmnist import backend; backend.JAX_INITIALIZER_OPTIONS["gpu"] = {}' \
            > "$ipython_dir/profile_default/startup/00-per-layer.py"
        IPYTHONDIR=$ipython_dir step lesson-per-layer 200 python3 -m bench.gpu --backends jax \
            --tasks none --lesson --lesson-runs 1 --out "$out/lesson-per-layer.json" ;;
    throughput)
        step throughput 300 python3 -m bench.gpu --backends jax torch --tasks throughput \
            --out "$out/throughput.json" ;;
    *)
        echo "unknown step: $name" >&2 ;;
    esac
done
