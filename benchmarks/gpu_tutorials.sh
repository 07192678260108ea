#!/usr/bin/env bash
# The tutorial presets too heavy for a 2-core CPU, trained as written on one CUDA GPU and evaluated there:
# the Keras AC-GAN (10,000 iterations) and the CelebA tutorial's DCGAN and WGAN-GP (10,000 iterations at
# 112 px) on a synthetic faces folder (benchmarks/make_faces_folder.py; CelebA itself where the user has it).
#   PYTHONPATH=src GANFORGE_DATA=DIR bash benchmarks/gpu_tutorials.sh OUT_DIR [PRESET:LIMIT_S ...]
# Default presets and time limits: tutorial4_celeba_dcgan:330 tutorial2_keras_acgan_mnist:150 (measured on
# an H200: the AC-GAN at 84 iterations/s, the CelebA DCGAN at ~7 G steps/s, its WGAN-GP at ~3.4, which
# needs its own call: tutorial4_celeba_wgan_gp:620). Writes OUT_DIR/tutorial_runs.tar.gz (per run: the
# config, metrics.jsonl, eval.json and the last fixed- and fresh-noise grids) and OUT_DIR/gpu_tutorials.log.
set -u
out=${1:?usage: gpu_tutorials.sh OUT_DIR [PRESET:LIMIT_S ...]}
shift
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(tutorial4_celeba_dcgan:330 tutorial2_keras_acgan_mnist:150)
py=${PYTHON:-python3}
work=$(mktemp -d)
log="$out/gpu_tutorials.log"
mkdir -p "$out"
if ! $py -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_tutorials: CUDA is not available here; nothing to do" | tee "$log"
    exit 0
fi
$py -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" >>"$log" 2>&1
for spec in "${specs[@]}"; do
    name=${spec%%:*} limit=${spec##*:}
    extra=()
    if [[ $name == tutorial4_* ]]; then
        [ -d "$work/faces" ] || $py benchmarks/make_faces_folder.py "$work/faces" --n 12000 >>"$log" 2>&1
        extra=("data.path=$work/faces")
    fi
    t0=$SECONDS
    timeout "$limit" $py -m ganforge train "configs/tutorials/$name.toml" train.device=cuda log.progress=false \
        "${extra[@]}" --run-dir "$work/runs/$name" >>"$log" 2>&1
    echo "$name: train rc=$? in $((SECONDS - t0)) s" >>"$log"
    t0=$SECONDS
    timeout 120 $py -m ganforge eval "$work/runs/$name" --device cuda --no-progress >>"$log" 2>&1
    echo "$name: eval rc=$? in $((SECONDS - t0)) s" >>"$log"
    keep="$work/keep/$name"
    mkdir -p "$keep"
    cp "$work/runs/$name"/{config.toml,metrics.jsonl,eval.json} "$keep"/ 2>/dev/null
    for pattern in 'step_*.png' 'fresh_step_*.png'; do
        last=$(ls "$work/runs/$name/samples"/$pattern 2>/dev/null | sort | tail -1)
        [ -n "$last" ] && cp "$last" "$keep"/
    done
done
(cd "$work/keep" && tar -czf "$out/tutorial_runs.tar.gz" .)
ls -la "$out" >>"$log"
