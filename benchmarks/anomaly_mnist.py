"""MNIST leave-one-digit-out anomaly detection with f-AnoGAN (`ganforge anomaly`).

For each digit d: train configs/anomaly_mnist.toml on the other nine digits' training images
(data.exclude_classes=[d]), fit the encoder (`ganforge anomaly fit`), score the whole MNIST test
set (`ganforge anomaly score RUN --images test`): AUROC with digit d as the positive class.

    python benchmarks/anomaly_mnist.py [--digits 0,1,...] [--jobs N] [--out-dir runs/anomaly] [overrides ...]

Writes OUT_DIR/results.json and OUT_DIR/results.md (the table). --jobs runs digits in parallel
(for a GPU; on a 2-core CPU keep 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_digit(d: int, out_dir: Path, overrides: list[str], fit_args: list[str]) -> dict:
    run = out_dir / f"digit_{d}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ganforge"]
    log = open(out_dir / f"digit_{d}.log", "a")
    times = {}
    t = time.time()
    if not (run / "checkpoints" / "last.pt").exists():
        subprocess.run(cmd + ["train", str(ROOT / "configs/anomaly_mnist.toml"), f"data.exclude_classes=[{d}]",
                              f"name=anomaly_digit{d}", *overrides, "--run-dir", str(run), "--no-progress"],
                       env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    times["train_s"] = round(time.time() - t, 1)
    t = time.time()
    subprocess.run(cmd + ["anomaly", "fit", str(run), "--no-progress", *fit_args],
                   env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    times["fit_s"] = round(time.time() - t, 1)
    t = time.time()
    subprocess.run(cmd + ["anomaly", "score", str(run), "--images", "test", "--json", str(run / "anomaly" / "score.json")],
                   env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    times["score_s"] = round(time.time() - t, 1)
    r = json.loads((run / "anomaly" / "score.json").read_text())
    out = {"digit": d, "auroc": r["auroc"], "auroc_image_residual": r["auroc_image_residual"],
           "auroc_feature_residual": r["auroc_feature_residual"], **times}
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out-dir", default="runs/anomaly")
    p.add_argument("--fit-args", default="", help="extra arguments of `ganforge anomaly fit`, e.g. '--kimg 150'")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digits = [int(x) for x in args.digits.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda d: run_digit(d, out_dir, args.overrides, args.fit_args.split()), digits))
    rows.sort(key=lambda r: r["digit"])
    mean = sum(r["auroc"] for r in rows) / len(rows)
    (out_dir / "results.json").write_text(json.dumps({"rows": rows, "mean_auroc": mean}, indent=2) + "\n")
    lines = ["| digit | " + " | ".join(str(r["digit"]) for r in rows) + " | mean |",
             "|---|" + "---:|" * (len(rows) + 1),
             "| f-AnoGAN (izi_f) | " + " | ".join(f"{r['auroc']:.3f}" for r in rows) + f" | **{mean:.3f}** |",
             "| image residual alone | " + " | ".join(f"{r['auroc_image_residual']:.3f}" for r in rows) +
             f" | {sum(r['auroc_image_residual'] for r in rows) / len(rows):.3f} |",
             "| D-feature residual alone | " + " | ".join(f"{r['auroc_feature_residual']:.3f}" for r in rows) +
             f" | {sum(r['auroc_feature_residual'] for r in rows) / len(rows):.3f} |"]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
