#!/usr/bin/env bash
# One prepared call on a lent GPU machine (the `device` tool; 15 minutes a session, all told):
# trains the recipe's runs side by side for $MINUTES, runs the test suite on CUDA meanwhile, then
# times CUDA inference. Everything the session needs back lands in $OUT (8 files at most):
#   A.best.pt A.last.pt A.csv  B.best.pt B.last.pt B.csv  logs.txt  checks.txt
# Prepare here first (both folders are gitignored) and pass carry: [".whl", ".devdata"]:
#   pip download flip-evaluator==1.7 openexr==3.5.3 --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --no-deps -d .whl
#   mkdir -p .devdata && cp -r ../shared/hdr-train .devdata/      (data/rendered travels with the tree)
# then, from the repo root there:  MINUTES=7 bash scripts/gpu_train.sh
# Try it here first on the CPU (this machine has the packages; its Python may not take the wheels):
#   OUT=/tmp/out DEVICE=cpu MINUTES=0.3 WORKERS=0 WHEELS=none PATCH=32 BATCH=2 bash scripts/gpu_train.sh
# data/blender-studiolights and data/hdr-photos stay out of training: they are the checks on scenes
# the weights never saw.
set -uo pipefail
if [ "${WHEELS:-.whl}" != none ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "${WHEELS:-.whl}"/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}; DEVICE=${DEVICE:-cuda}; MINUTES=${MINUTES:-7}; WORKERS=${WORKERS:-7}
# The next recipe (model card, "Not shipped: light-aware training on an H200"): continue run B of
# session 6 with fewer synthetic lights and a heavier light term, counted per clipped region (a
# per-view term asked a view's sky for its lamp's light: model card, sessions 11 and 14). Its held-out
# scenes stay held out: the five validation scenes and every third of the renders it saw
# (render_0002 ... render_0017); every third of the later renders too (render_0020 ... render_0038),
# whose bulbs and suns in view the shipped weights leave 3.5 stops too dim (model card, session 7):
# the light check needs them.
# Afterwards, here: pick each run's checkpoint on whole validation photos, calibrate it with
# `scripts/calibrate_gain.py ... --detail-sigma 0,2` (the shipped weights keep only the detail of the
# well-exposed log gain; model card, session 9) and test on renders no run saw: render_0040-0059
# (`scripts/render_scenes.py --out runs/fresh_renders --start 40 --count 20 --spp 256 --seed 13`),
# and on the real photographs: `scripts/compare_weights.py --hdr data/hdr-photos --views 2 --jobs 2
# CANDIDATE weights/fhdr.pt` (about 40 minutes here). The light a run learns depends on how many
# clipped regions of its crops are lights: `scripts/region_light_stats.py --training P` (model card,
# "What the data teaches about light").
RESUME=${RESUME:-experiments/h200_lights_B.pt}
HELD_OUT_RENDERS=render_0002,render_0005,render_0008,render_0011,render_0014,render_0017
HELD_OUT_RENDERS+=,render_0020,render_0023,render_0026,render_0029,render_0032,render_0035,render_0038
VAL_SCENES=${VAL_SCENES:-open3d_crossroads_cubestrip,open3d_hall_cubestrip,pmndrs_bridge,pmndrs_lobby,pmndrs_sunset,$HELD_OUT_RENDERS}
data=(--data .devdata/hdr-train --data data/rendered --data data/registry-hdr --val-scenes "$VAL_SCENES")
common=("${data[@]}" --resume "$RESUME" --iterations 4 --device "$DEVICE" --minutes "$MINUTES"
        --checkpoint-minutes 1 --workers "$WORKERS" --lr 1e-4 --log-weight 1.0 --region-light-weight 0.2
        --glare-probability 0.5)

train_run() {  # name, extra arguments
  local name=$1; shift
  mkdir -p "/tmp/$name"
  setsid nohup python3 -m fhdr_cli train "${common[@]}" --out "/tmp/$name/fhdr.pt" "$@" \
    > "/tmp/$name/log.txt" 2>&1 < /dev/null &
}
collect() {
  for name in A B; do
    [ -f "/tmp/$name/fhdr.best.pt" ] && cp "/tmp/$name/fhdr.best.pt" "$OUT/$name.best.pt"
    [ -f "/tmp/$name/fhdr.pt" ] && cp "/tmp/$name/fhdr.pt" "$OUT/$name.last.pt"
    [ -f "/tmp/$name/fhdr.csv" ] && cp "/tmp/$name/fhdr.csv" "$OUT/$name.csv"
  done
  for name in A B; do echo "== run $name"; grep -a -v "━" "/tmp/$name/log.txt" 2>/dev/null | tail -40; done > "$OUT/logs.txt"
}

# Scenes are drawn alike, so the 27 training renders make 60 % of the crops; `--data-weight` (one per
# --data) sets each folder's share if a run shows the renders pulling the panoramas' skies too bright.
# Session 6 trained with lights on half the views, and its weights overshot where no light was;
# A and B bracket a realistic share. Half the views go through a glaring lens (session 12): the
# synthetic lights always carried a halo and the renders' lamps none, so "no halo" read as "no light".
train_run A --patch "${PATCH:-192}" --batch "${BATCH:-12}" --light-probability 0.25
train_run B --patch "${PATCH:-192}" --batch "${BATCH:-12}" --light-probability 0.12
sleep 2
{
  echo "== $(date -u) device"; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  # The test suite on CUDA, from $SUITE (a copy of the tree to test; default this one), installed
  # editable so that fhdr_cli.weights resolves as in a user's install.
  if [ "$DEVICE" = cuda ]; then
    suite=${SUITE:-.}
    echo "== test suite on a CUDA machine ($suite)"
    (cd "$suite" && export PYTHONPATH=/tmp/site \
      && python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . \
      && timeout 240 nice -n 5 python3 -m pytest -q -p no:cacheprovider tests 2>&1 | tail -25)
  fi
} > "$OUT/checks.txt" 2>&1

while pgrep -f "fhdr_cli train" > /dev/null; do sleep 10; collect; done
collect
if [ "$DEVICE" = cuda ]; then
  {
    echo "== $(date -u) benchmark fp16"
    timeout 100 python3 -m fhdr_cli benchmark --device cuda --size 4000x3000 -n 1,4 --half --weights weights/fhdr.pt 2>&1 | tail -20
    echo "== benchmark fp32"
    timeout 100 python3 -m fhdr_cli benchmark --device cuda --size 4000x3000 -n 4 --weights weights/fhdr.pt 2>&1 | tail -12
    echo "== $(date -u) done"
  } >> "$OUT/checks.txt" 2>&1
fi
ls -la "$OUT"
tail -3 "$OUT/logs.txt"
