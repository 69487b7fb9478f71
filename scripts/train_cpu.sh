#!/usr/bin/env bash
# The CPU curriculum that produced the shipped weights (see weights/MODEL_CARD.md).
#   phase 1: one feedback iteration, 96 px crops (cheap: learns the features and the output head);
#   phase 2: resumes phase 1's best with all four iterations, loss averaged over them (the paper's loss);
#   phase 3: back to one iteration for three times the steps per minute, from phase 2's best.
# Each phase resumes its own last checkpoint if it exists, so the script can be rerun after a stop.
# Usage: scripts/train_cpu.sh DATA_DIR RUN_DIR MINUTES1 MINUTES2 MINUTES3
set -euo pipefail
data=${1:-../shared/hdr-train}; run=${2:-runs/cpu}; m1=${3:-35}; m2=${4:-40}; m3=${5:-35}
mkdir -p "$run"
phase() {  # phase NAME FROM MINUTES ARGS...
  local name=$1 from=$2 minutes=$3; shift 3
  [ "$minutes" = 0 ] && return
  local resume=()
  if [ -f "$run/$name.pt" ]; then resume=(--resume "$run/$name.pt"); elif [ -n "$from" ]; then resume=(--resume "$from"); fi
  fhdr train --data "$data" --out "$run/$name.pt" --minutes "$minutes" --threads 2 --batch 8 "${resume[@]}" "$@"
}
phase phase1 "" "$m1" --iterations 1 --patch 96 --lr 3e-4
phase phase2 "$run/phase1.best.pt" "$m2" --iterations 4 --patch 64 --lr 1.5e-4
phase phase3 "$run/phase2.best.pt" "$m3" --iterations 1 --patch 96 --lr 1.5e-4
