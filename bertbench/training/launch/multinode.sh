#!/usr/bin/env bash
# Multi-node launch of `bertbench regenerate`, run once on every node (N nodes x G GPUs each).
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 GPUS=8 bash bertbench/training/launch/multinode.sh   # on node 0
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=node0 GPUS=8 bash bertbench/training/launch/multinode.sh   # on node 1
# --parallel grid (default): the NNODES x GPUS processes split the architectures; --parallel ddp: they train each
# architecture together. Under Slurm, `srun` can start it on every node with NODE_RANK=$SLURM_NODEID.
set -euo pipefail
: "${NNODES:=1}" "${NODE_RANK:=0}" "${MASTER_ADDR:=127.0.0.1}" "${MASTER_PORT:=29500}" "${GPUS:=1}"
: "${GRID:=paper-2023}" "${RECIPE:=paper-2023}" "${RUN_DIR:=runs/paper-2023}" "${PARALLEL:=grid}"
: "${PYTHON:=python}"
exec $PYTHON -m torch.distributed.run --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$GPUS" \
  --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" \
  -m bertbench.cli regenerate --grid "$GRID" --recipe "$RECIPE" --out "$RUN_DIR" --parallel "$PARALLEL" ${EXTRA_ARGS:-}
