#!/usr/bin/env bash
# One-shot GPU check (benchmarks/gpu_check.py: CUDA tests, ganforge bench on CUDA, a demo training and its
# eval) into one markdown file, in at most about 8 minutes; without CUDA one line and exit status 0.
#   bash benchmarks/gpu_check.sh OUT.md [--budget SECONDS]
# Runs this checkout's src/ (no install needed); PYTHON picks the interpreter (default: python, else python3).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${PYTHON:-$(command -v python || command -v python3)}
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" exec "$py" "$root/benchmarks/gpu_check.py" "$@"
