#!/usr/bin/env bash
# The tutorial presets too heavy for a 2-core CPU, trained as written on one CUDA GPU and evaluated:
# the Keras AC-GAN (10,000 iterations) and the CelebA tutorial's DCGAN and WGAN-GP (10,000 iterations at
# 112 px) on a synthetic faces folder (benchmarks/make_faces_folder.py; CelebA itself where the user has it).
#   PYTHONPATH=src GANFORGE_DATA=DIR bash benchmarks/gpu_tutorials.sh OUT_DIR [N_FACES]
# Writes OUT_DIR/tutorial_runs.tar.gz (each run without checkpoints, its eval.json and a log) and
# OUT_DIR/gpu_tutorials.log. Each training has its own time limit so one slow run cannot take the rest.
set -u
out=${1:?usage: gpu_tutorials.sh OUT_DIR [N_FACES]}
n_faces=${2:-12000}
py=${PYTHON:-python3}
work=$(mktemp -d)
log="$out/gpu_tutorials.log"
mkdir -p "$out"
if ! $py -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_tutorials: CUDA is not available here; nothing to do" | tee "$log"
    exit 0
fi
{
    $py -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
    t0=$(date +%s)
    $py benchmarks/make_faces_folder.py "$work/faces" --n "$n_faces"
    echo "faces folder: $(( $(date +%s) - t0 )) s for $n_faces images"
} >>"$log" 2>&1
run() {  # run NAME LIMIT_S OVERRIDES...
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" $py -m ganforge train "configs/tutorials/$name.toml" train.device=cuda log.progress=false "$@" \
        --run-dir "$work/runs/$name" >>"$log" 2>&1
    echo "$name: train rc=$? in $((SECONDS - t0)) s" >>"$log"
    timeout 70 $py -m ganforge eval "$work/runs/$name" >>"$log" 2>&1
    echo "$name: eval rc=$?" >>"$log"
}
run tutorial4_celeba_dcgan 150 "data.path=$work/faces"
run tutorial4_celeba_wgan_gp 170 "data.path=$work/faces"
run tutorial2_keras_acgan_mnist 100
(cd "$work/runs" && tar --exclude='checkpoints' --exclude='tensorboard' -czf "$out/tutorial_runs.tar.gz" .)
ls -la "$out" >>"$log"
