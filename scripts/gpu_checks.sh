#!/usr/bin/env bash
# Issue 16's GPU measurements in one run, on a CUDA machine, from the repo root:
#   OUT=/some/folder bash scripts/gpu_checks.sh
# Writes one log per step and summary.txt (each step's command, exit code and seconds) under $OUT.
# Steps are independent: one that fails or times out (STEP_TIMEOUT, default 240 s) does not stop
# the others. About 7-9 minutes on an H200 (most of it the test suite and torch.compile's compiling):
# give the run tool timeout_s=600.
set -u
OUT=${OUT:-gpu-checks}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's fhdr_cli, installed or not

step() {  # step NAME COMMAND...
  local name=$1 start=$SECONDS rc
  shift
  timeout "${STEP_TIMEOUT:-240}" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  printf '%-20s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - start))" "$*" | tee -a "$OUT/summary.txt"
}

{ nvidia-smi; $PY -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"; nproc; } \
  > "$OUT/machine.txt" 2>&1

# 1. the CUDA path's own tests first (uploads ahead on a second stream, pinned copies back, tiles; seconds),
#    then the suite passes on CUDA (it failed twice on an H200: TF32 against a CPU reference, SIGTERM while importing)
step cuda_tests "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_cuda_overlap.py tests/test_cli.py -k cuda
step suite "$PY" -m pytest -q -p no:cacheprovider
# 2. CUDA against the CPU: fp32 exact (the default now), fp32 with TF32 (the decision), fp16
step precision "$PY" scripts/cuda_precision.py --size 2000x1500 --iterations 4  # 3 MP: the CPU reference takes a while
# 3. end to end, 12 MP: an 8-bit photo in host memory -> float32 HDR in host memory (upload, model, copy
#    back), 1 and 4 iterations, fp16 and fp32. Target: fp16 at 4 iterations <= 0.4 s (bench_half_compiled).
step bench_half "$PY" -m fhdr_cli benchmark --device cuda --size 4000x3000 -n 1,4 --half --repeat 3 --json
step bench_fp32 "$PY" -m fhdr_cli benchmark --device cuda --size 4000x3000 -n 1,4 --json
step bench_half_compiled "$PY" -m fhdr_cli benchmark --device cuda --size 4000x3000 -n 4 --half --compile --repeat 3 --json
# 4. a batch keeps the GPU fed: batch / model-only >= 0.9 (8 JPEGs of 12 MP, 4 iterations, fp16)
step batch_gpu "$PY" scripts/bench_batch.py --count 8 --width 4000 --height 3000 --iterations 4 --device cuda --half
step batch_gpu_compiled "$PY" scripts/bench_batch.py --count 8 --width 4000 --height 3000 --iterations 4 --device cuda \
  --half --compile
step encode "$PY" scripts/bench_batch.py --encode-threads 1,2,4,8 --count 8 --width 4000 --height 3000
# 5. the network alone on an input already on the GPU, 12 MP, fp16, eager and compiled (and their difference):
#    bench_half's and bench_half_compiled's seconds minus eager_s and compiled_s are the host's share
step compile_half "$PY" scripts/bench_compile.py --device cuda --size 4000x3000 --iterations 4 --half
# 6. the Ray backend with one GPU actor (only where Ray is installed)
if $PY -c "import ray.data" 2>/dev/null; then
  rm -rf /tmp/fhdr-ray-in /tmp/fhdr-ray-out && mkdir -p /tmp/fhdr-ray-in
  $PY -c "import cv2; im = cv2.resize(cv2.imread('examples/venice_sunset.jpg'), (4000, 3000))
for i in range(8): cv2.imwrite(f'/tmp/fhdr-ray-in/p{i}.jpg', im)"
  step ray_gpu "$PY" -m fhdr_cli batch /tmp/fhdr-ray-in /tmp/fhdr-ray-out --ray local --device cuda --half \
    --report "$OUT/ray_report.jsonl"
fi
rm -rf /tmp/fhdr-ray-in /tmp/fhdr-ray-out
