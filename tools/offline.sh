# Sourced by the test and CI scripts: never reach a model hub, keep caches in a temp folder, one thread.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export WANDB_MODE=offline DO_NOT_TRACK=1 TOKENIZERS_PARALLELISM=false
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export KM_TMP=${KM_TMP:-$(mktemp -d -t km-XXXXXX)}
export HF_HOME=${HF_HOME:-$KM_TMP/hf} WANDB_DIR=${WANDB_DIR:-$KM_TMP/wandb} MPLBACKEND=Agg
