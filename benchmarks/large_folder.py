"""A CelebA-size image folder end to end (issue 28, item 5): decode speed, cache size, the cache's read
time, training speed and peak memory with the images in host memory, and the self-conditioned GAN's
spectral clusters at that size.

    .venv/bin/python benchmarks/large_folder.py [--folder /tmp/faces200k] [--n 200000] [--size 64]
        [--preset configs/faces64.toml] [--steps 150] [--cluster-sample 20000]

Each step prints one line; the folder (make_faces_folder.py's faces, seed 0) is written when it does not
hold n images yet. The first load decodes every file (with its progress bar) and writes the uint8 cache;
the second reads the cache. Training runs in a child process (``data.device=cpu``: uint8 images in host
memory, batches converted as they are drawn), whose peak resident memory /usr/bin/time reports.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def make_folder(out: Path, n: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from make_faces_folder import face

    marker = out / f".complete_{n}"
    if marker.exists():
        return
    rng = random.Random(0)
    start = time.perf_counter()
    for i in range(n):
        sub = out / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        face(rng).save(sub / f"face_{i:06d}.{'png' if i % 3 == 0 else 'jpg'}", quality=92)
    marker.touch()
    print(f"wrote {n} images to {out} in {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default="/tmp/faces200k")
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--preset", default="configs/faces64.toml")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--cluster-sample", type=int, default=20000)
    ap.add_argument("--runs", default="runs/large_folder")
    args = ap.parse_args()
    from ganforge.data.clusters import cluster_labels
    from ganforge.data.folder import CACHE_SUBDIR, load_folder

    folder = Path(args.folder)
    make_folder(folder, args.n)
    shutil.rmtree(folder / CACHE_SUBDIR, ignore_errors=True)  # measure a first decode
    start = time.perf_counter()
    images = load_folder(folder, args.size, "all")
    decode = time.perf_counter() - start
    cache = sum(f.stat().st_size for f in (folder / CACHE_SUBDIR).glob("*.npy"))
    print(f"decode: {len(images)} images at {args.size} px in {decode:.1f} s = {len(images) / decode:.0f} img/s "
          f"({os.cpu_count()} cores); cache {cache / 2**30:.2f} GiB", flush=True)
    del images
    start = time.perf_counter()
    images = load_folder(folder, args.size, "all")
    print(f"cache read: {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    cluster_labels(images, args.clusters, 0, "spectral", args.cluster_sample)
    print(f"spectral clusters: {args.clusters} clusters of {len(images)} images with model.cluster_sample="
          f"{args.cluster_sample} in {time.perf_counter() - start:.1f} s", flush=True)
    del images
    run = Path(args.runs) / "train"
    shutil.rmtree(run, ignore_errors=True)
    cmd = [sys.executable, "-m", "ganforge", "train", args.preset, f"data.path={folder}", "data.device=cpu",
           f"train.steps={args.steps}", "train.kimg=0", "train.epochs=0", "log.every=25", "eval.every=0",
           "log.sample_every=0", "log.checkpoint_every=0", "model.clusters=0", "model.conditioning=none",
           "model.g_cbn=false", "--run-dir", str(run)]
    start = time.perf_counter()
    if shutil.which("time") or Path("/usr/bin/time").exists():  # the training's own peak, not this process's
        proc = subprocess.run(["/usr/bin/time", "-f", "peak_rss_kb=%M", *cmd], check=True, stderr=subprocess.PIPE,
                              text=True)
        rss = int(proc.stderr.strip().splitlines()[-1].split("=")[1]) / 2**20  # KiB -> GiB
    else:
        subprocess.run(cmd, check=True)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    wall = time.perf_counter() - start
    speeds = [json.loads(line).get("img_per_s") for line in (run / "metrics.jsonl").read_text().splitlines()]
    speeds = [s for s in speeds if s]
    print(f"training ({args.steps} steps, data.device=cpu): {wall:.0f} s with start-up, "
          f"{sum(speeds[1:]) / max(len(speeds) - 1, 1):.0f} img/s after the first log interval; "
          f"peak RSS {rss:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
