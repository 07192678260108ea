"""The three generator games of tutorial 003 trained on MNIST, side by side: D(G(z)) over training (log
scale, from each run's metrics.jsonl) and each run's last fixed-noise grid.

    .venv/bin/python benchmarks/tutorial_games_figure.py RUNS_DIR [OUT.png]

RUNS_DIR holds tutorial3_keras_mlp_{minimax,non_saturating,max_likelihood} (each trained by
``ganforge train configs/tutorials/<name>.toml --run-dir RUNS_DIR/<name>``); the figure goes to
OUT.png (default docs/images/tutorials/three_games_mnist.png).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

GAMES = ("minimax", "non_saturating", "max_likelihood")


def curves(run: Path) -> tuple[list[int], list[float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "d_fake" in r]
    return [r["step"] for r in rows], [max(r["d_fake"], 1e-8) for r in rows]


def main(argv: list[str]) -> Path:
    runs = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "docs/images/tutorials/three_games_mnist.png"
    fig = plt.figure(figsize=(12, 4.2))
    ax = fig.add_subplot(1, 4, 1)
    for game in GAMES:
        steps, d_fake = curves(runs / f"tutorial3_keras_mlp_{game}")
        ax.plot(steps, d_fake, label=game)
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("mean D(G(z))")
    ax.set_title("D(G(z)) during training")
    ax.legend(fontsize=8)
    for i, game in enumerate(GAMES):
        grid = sorted((runs / f"tutorial3_keras_mlp_{game}" / "samples").glob("step_*.png"))[-1]
        sub = fig.add_subplot(1, 4, i + 2)
        sub.imshow(Image.open(grid), cmap="gray")
        sub.set_title(f"{game}, step {int(grid.stem.split('_')[-1])}", fontsize=9)
        sub.axis("off")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
