"""Small data: does augmentation keep D from memorising 1,000 images? (issue 28, item 4)

    .venv/bin/python benchmarks/small_data.py [--preset configs/faces64.toml] [--n 1000] [--kimg 100]
        [--runs runs/small_data] [--out docs/images/small_data.png]

Writes a synthetic faces folder (benchmarks/make_faces_folder.py's images, seed 0) of n training images
plus n held out (``data.val_count=n``, so FID and PRDC compare with n unseen faces, not 5% of a small
folder), then trains the preset on it three times: without augmentation, with DiffAugment at a fixed
p = 0.5 (translation, color, cutout), and with the adaptive p (target 0.6). Every run evaluates FID,
precision/recall/density/coverage and AGE's held-out gap (``d_gap``: D's mean output on its training
images minus on the held-out ones; memorisation makes it grow) every ``--every`` steps. Prints one
table row per run (last and best FID, last recall, coverage and d_gap, wall time) and draws the FID and
d_gap curves into one picture.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "none": [],
    "fixed p=0.5": ['loss.augment=["translation","color","cutout"]', "loss.augment_p=0.5"],
    "adaptive, target 0.6": ['loss.augment=["translation","color","cutout"]', "loss.augment_p=0.0",
                             "loss.augment_target=0.6"],
}


def make_folder(out: Path, n: int) -> Path:
    """n + n faces (the first 2n images make_faces_folder.py draws with seed 0), written once."""
    sys.path.insert(0, str(Path(__file__).parent))
    from make_faces_folder import face

    marker = out / f".complete_{2 * n}"
    if marker.exists():
        return out
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(2 * n):
        face(rng).save(out / f"face_{i:05d}.png")
    marker.touch()
    return out


def evals(run: Path) -> list[dict]:
    rows = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "eval" in rec:
            rows.append({"step": rec["step"], **rec["eval"]})
    return rows


def plot(curves: dict[str, list[dict]], batch: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, rows in curves.items():
        kimg = [r["step"] * batch / 1000 for r in rows]
        axes[0].plot(kimg, [r["fid"] for r in rows], marker="o", ms=3, label=label)
        axes[1].plot(kimg, [r["d_gap"] for r in rows], marker="o", ms=3, label=label)
    axes[0].set(xlabel="thousands of images shown to D", ylabel="FID (16x16 pixels, 1,000 held out)",
                yscale="log", title="sample quality")
    axes[1].set(xlabel="thousands of images shown to D", ylabel="d_gap = D(train) - D(held out)",
                title="memorisation")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[0].legend(title="augmentation")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="configs/faces64.toml")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--kimg", type=float, default=100)
    ap.add_argument("--every", type=int, default=150, help="steps between evaluations")
    ap.add_argument("--folder", default="/tmp/faces_small")
    ap.add_argument("--runs", default="runs/small_data")
    ap.add_argument("--out", default="docs/images/small_data.png")
    ap.add_argument("--only", default="", help="comma-separated settings to train (default all)")
    ap.add_argument("overrides", nargs="*", help="extra section.key=value overrides for every run")
    args = ap.parse_args()
    folder = make_folder(Path(args.folder), args.n)
    runs = Path(args.runs)
    curves, batch = {}, None
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    for label, extra in SETTINGS.items():
        slug = label.split(",")[0].replace(" ", "_").replace("=", "")
        run = runs / slug
        if not only or slug in only or label in only:
            cmd = [sys.executable, "-m", "ganforge", "train", args.preset, f"data.path={folder}",
                   "data.val_fraction=0", f"data.val_count={args.n}", f"train.kimg={args.kimg}", f"eval.every={args.every}",
                   "eval.n=1000", 'eval.metrics=["fid","prdc","age"]', "log.sample_every=1000",
                   f"name={slug}", *extra, *args.overrides, "--run-dir", str(run)]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            (run / "wall_s.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
        if not (run / "metrics.jsonl").exists():
            continue
        from ganforge.choices import load_run_config

        batch = load_run_config(run)[0].data.batch_size
        curves[label] = rows = evals(run)
        last, best = rows[-1], min(rows, key=lambda r: r["fid"])
        wall = (run / "wall_s.txt").read_text().strip() if (run / "wall_s.txt").exists() else "?"
        print(f"| {label} | {last['fid']:.2f} | {best['fid']:.2f} at {best['step'] * batch / 1000:.0f} kimg | "
              f"{last['recall']:.2f} | {last['coverage']:.2f} | {last['d_gap']:.3f} | {wall} s |", flush=True)
    if curves:
        plot(curves, batch, Path(args.out))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
