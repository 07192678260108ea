"""The theory figures of docs/theory.md, computed by ganforge (every picture from a real run or
from ganforge's own loss functions):

    GANFORGE_DATA=../shared/data .venv/bin/python benchmarks/theory_figures.py [--only NAME,...]

- ``saturation``: docs/images/theory_saturation.png, the generator losses and the gradient that
  reaches G through D's logit, as D(G(z)) goes from 0 to 1 (autograd, no training).
- ``gan1d``: trains configs/gan1d.toml (runs/theory/gan1d) and puts four moments of its training
  side by side (docs/images/theory_gan1d.png), as Goodfellow et al. 2014's figure 1; the GIF of
  every frame is docs/images/theory_gan1d.gif.
- ``collapse``: ring8 over training for a plain GAN (a 2-D normal latent, no packing, constant
  learning rate, no R1/EMA) beside the ring8 preset (runs/theory/ring8_plain, runs/theory/ring8):
  docs/images/theory_mode_collapse.png.
- ``games``: trains configs/gan1d.toml three times in memory, once per generator game (minimax,
  non-saturating, maximum likelihood; same seed), measuring D(G(z)) and the generator's gradient
  every 10 G steps: docs/images/theory_three_games.png. The same three games on MNIST (the tutorial
  presets) are benchmarks/tutorial_games_figure.py's docs/images/tutorials/three_games_mnist.png.
- ``divergences``: no training; the single Gaussian each divergence fits to a two-mode target with
  the non-saturating loss's KL - 2 JS identity checked (docs/images/theory_kl_directions.png), and
  JS vs W1 as one uniform slides past another (docs/images/theory_js_w1.png).
- ``critic``: a 1-D WGAN-GP critic trained between two fixed distributions, its slope |f'(x)| and
  its W1 estimate: docs/images/theory_wgan_gp_critic.png.

Each figure's numbers (fits, identity errors, slopes) are printed and kept in
docs/images/theory_numbers.json, the numbers docs/theory.md quotes.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
NUMBERS = IMAGES / "theory_numbers.json"


def keep(name: str, numbers: dict) -> None:
    """Print a figure's numbers and keep them under ``name`` in docs/images/theory_numbers.json."""
    print(name, json.dumps(numbers, indent=1))
    kept = json.loads(NUMBERS.read_text()) if NUMBERS.exists() else {}
    kept[name] = numbers
    NUMBERS.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def train_preset(name: str, run: Path, overrides=()) -> Path:
    from ganforge.choices import load_config
    from ganforge.runs import RunDir
    from ganforge.training.run import train

    if not RunDir(run).last.exists():
        shutil.rmtree(run, ignore_errors=True)
        train(load_config(ROOT / "configs" / f"{name}.toml", ["log.progress=false", *overrides]), run_dir=run)
    return run


def frames(run: Path, steps) -> list[Path]:
    from ganforge.runs import RunDir

    grids = RunDir(run).sample_grids()
    by_step = {int(p.stem.split("_")[1]): p for p in grids}
    return [by_step[min(by_step, key=lambda s: abs(s - want))] for want in steps]


def strip(rows: list[tuple[str, list[Path]]], out: Path, scale: float = 0.6) -> Path:
    """Rows of frames, each row labelled on its left."""
    loaded = [(label, [Image.open(p).convert("RGB") for p in paths]) for label, paths in rows]
    w, h = loaded[0][1][0].size
    w, h = int(w * scale), int(h * scale)
    label_w = 150
    sheet = Image.new("RGB", (label_w + w * max(len(r) for _, r in loaded), h * len(loaded)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, images) in enumerate(loaded):
        draw.multiline_text((8, i * h + h // 2 - 20), label, fill="black")
        for j, im in enumerate(images):
            sheet.paste(im.resize((w, h), Image.LANCZOS), (label_w + j * w, i * h))
    sheet.save(out)
    return out


def saturation() -> None:
    from ganforge.viz.theory import save_saturation

    print(save_saturation(IMAGES / "theory_saturation.png"))


def gan1d() -> None:
    from ganforge.report import training_gif

    run = train_preset("gan1d", ROOT / "runs" / "theory" / "gan1d")
    picks = frames(run, [0, 200, 500, 2000])
    images = [Image.open(p).convert("RGB") for p in picks]
    w, h = images[0].size
    sheet = Image.new("RGB", (w * 2, h * 2), "white")
    for k, im in enumerate(images):
        sheet.paste(im, ((k % 2) * w, (k // 2) * h))
    sheet.save(IMAGES / "theory_gan1d.png")
    training_gif(run, IMAGES / "theory_gan1d.gif", frame_ms=200)
    print(IMAGES / "theory_gan1d.png", IMAGES / "theory_gan1d.gif")


def collapse() -> None:
    plain = train_preset("ring8", ROOT / "runs" / "theory" / "ring8_plain",
                         ["model.d.pack=1", "optim.schedule=constant", "loss.r1_gamma=0", "train.ema_kimg=0",
                          "model.g.norm=none", "model.latent_categories=0", "model.latent_dim=2",
                          "train.steps=10000", "log.sample_every=1000"])
    results = ROOT / "runs" / "results" / "ring8"  # benchmarks/results.py's run of the same preset, if any
    preset = results if (results / "checkpoints" / "last.pt").exists() else train_preset("ring8", ROOT / "runs" / "theory" / "ring8")
    last = int(frames(preset, [10**9])[0].stem.split("_")[1])
    out = strip([("plain GAN\n(2-D normal latent,\nno packing, constant lr,\nno R1 / EMA)", frames(plain, [1000, 2000, 4000, 6000, 8000])),
                 ("ring8 preset\n(16 latent categories,\npacking 2, lr decay,\nR1 0.1, EMA)", frames(preset, [2000, 4000, 6000, 20000, last]))],
                IMAGES / "theory_mode_collapse.png")
    print(out)


def games() -> None:
    from ganforge.viz.theory_games import save_games, train_games

    r = train_games(steps=2000, every=10)
    print(save_games(r, IMAGES / "theory_three_games.png"))
    numbers = {}
    for game in r["games"]:
        g = r[game]
        low = int(g["d_fake"].argmin())
        numbers[game] = {"min_d_fake": float(g["d_fake"][low]), "min_d_fake_step": int(g["step"][low]),
                         "grad_logit_at_min": float(g["grad_logit"][low]), "grad_g_at_min": float(g["grad_g"][low]),
                         "first_step_d_fake_0.45": int(g["step"][(g["step"] > g["step"][low]) & (g["d_fake"] >= 0.45)][0]),
                         "final_mean": float(g["samples"].mean()), "final_std": float(g["samples"].std())}
    keep("games", numbers)


def divergences() -> None:
    from ganforge.viz.theory import save_js_vs_w1, save_kl_directions

    path, kl = save_kl_directions(IMAGES / "theory_kl_directions.png")
    path2, jsw = save_js_vs_w1(IMAGES / "theory_js_w1.png")
    print(path, path2)
    keep("kl_directions", kl)
    keep("js_w1", jsw)


def critic() -> None:
    from ganforge.viz.theory_games import between, save_critic, train_wgan_gp_critic

    r = train_wgan_gp_critic()
    print(save_critic(r, IMAGES / "theory_wgan_gp_critic.png"))
    m = between(r)
    keep("critic", {"steps": r["steps"], "gp_weight": r["gp_weight"], "w1_exact": r["w1"],
                    "w1_estimate": r["w1_estimate"], "mean_slope_between": float(r["grad"][m].mean()),
                    "soft_penalty_slope": 1 + r["w1"] / (2 * r["gp_weight"])})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="saturation,gan1d,collapse,games,divergences,critic")
    args = p.parse_args()
    for name in args.only.split(","):
        globals()[name]()


if __name__ == "__main__":
    main()
