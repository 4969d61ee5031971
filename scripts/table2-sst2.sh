#!/usr/bin/env bash
# Regenerates the committed SST-2 Table 2 records: 4 attacks x {TextCNN, Conv SNN FT} x {seeded, fresh}, 200
# examples each, paper settings. Resumable: rerunning continues every run from its per-example file.
# Usage: scripts/table2-sst2.sh [NUM_EXAMPLES]
set -euo pipefail
n=${1:-200}
for attack in pwws textfooler textbugger bert-attack; do
  snn-robust run --dataset sst2 --attack "$attack" --models textcnn,snn-ft --sampling seeded --num-examples "$n"
done
for attack in pwws textfooler textbugger bert-attack; do
  snn-robust run --dataset sst2 --attack "$attack" --models snn-ft --sampling fresh --num-examples "$n"
done
snn-robust table table2
