#!/usr/bin/env bash
# The CPU curriculum that produced the shipped weights (see weights/MODEL_CARD.md).
# Phase 1 trains one feedback iteration (cheap, learns the features and the head);
# phase 2 resumes with all four iterations, the loss averaged over them as in the paper.
# Usage: scripts/train_cpu.sh DATA_DIR RUN_DIR PHASE1_MINUTES PHASE2_MINUTES
set -euo pipefail
data=${1:-../shared/hdr-train}; run=${2:-runs/cpu}; m1=${3:-35}; m2=${4:-60}
mkdir -p "$run"
if [ ! -f "$run/phase1.pt" ] || [ "$m1" != 0 ]; then
  fhdr train --data "$data" --out "$run/phase1.pt" --iterations 1 --patch 96 --batch 8 --lr 3e-4 \
    --minutes "$m1" --threads 2 $([ -f "$run/phase1.pt" ] && echo --resume "$run/phase1.pt")
fi
fhdr train --data "$data" --out "$run/phase2.pt" --iterations 4 --patch 64 --batch 8 --lr 1.5e-4 \
  --minutes "$m2" --threads 2 --resume "$([ -f "$run/phase2.pt" ] && echo "$run/phase2.pt" || echo "$run/phase1.best.pt")"
