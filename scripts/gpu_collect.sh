#!/usr/bin/env bash
# Companion of gpu_train.sh, on the GPU machine: wait up to $1 seconds (or until the run ends),
# copying the checkpoints and the CSV log to $OUT, which the device tool brings back.
end=$((SECONDS + ${1:-540}))
files=(/tmp/run/fhdr.pt /tmp/run/fhdr.best.pt /tmp/run/fhdr.csv /tmp/run/log.txt)
copy() { for f in "${files[@]}"; do [ -f "$f" ] && cp "$f" "$OUT/"; done; }
while [ $SECONDS -lt $end ] && pgrep -f "fhdr_cli train" >/dev/null; do
  sleep 10
  copy
done
copy
grep -a "val loss" /tmp/run/log.txt | tail -5
pgrep -f "fhdr_cli train" >/dev/null && echo RUNNING || echo FINISHED
