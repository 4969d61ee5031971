#!/usr/bin/env bash
# Regenerates the committed SST-2 Table 2 records: 4 attacks x {TextCNN, Conv SNN FT} x {seeded, fresh}, plus
# PWWS and TextFooler against the SNN with eot:4; 200 examples each, paper settings, seed 0.
# Resumable: rerunning continues every run from its per-example file.
# Usage: scripts/table2-sst2.sh [NUM_EXAMPLES]
set -euo pipefail
n=${1:-200}
for sampling in seeded fresh; do
  for attack in pwws textfooler textbugger bert-attack; do
    models=textcnn,snn-ft
    [ "$sampling" = fresh ] && models=snn-ft  # the TextCNN is deterministic: one run serves both protocols
    snn-robust run --dataset sst2 --attack "$attack" --models "$models" --sampling "$sampling" --num-examples "$n"
  done
done
for attack in pwws textfooler; do
  snn-robust run --dataset sst2 --attack "$attack" --models snn-ft --sampling eot:4 --num-examples "$n"
done
snn-robust table table2
