#!/usr/bin/env bash
# Regenerates one dataset's Table 1 column (7 models x 3 seeds) as records under results/table1/<dataset>/.
# Resumable: finished models are cached checkpoints, interrupted training resumes from its last epoch.
# Usage: scripts/table1-column.sh sst2 [extra snn-robust evaluate options]
set -euo pipefail
dataset=${1:?usage: scripts/table1-column.sh DATASET [options]}; shift
for kind in textcnn tailored snn-conv snn-conv-mn snn-conv-dn snn-ft snn-direct; do
  for seed in 0 1 2; do
    snn-robust evaluate --dataset "$dataset" --model "$kind" --seed "$seed" "$@"
  done
done
snn-robust table table1
