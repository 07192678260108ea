"""Train the presets and write the results table (docs/results.md), every number measured here.

    GANFORGE_DATA=../shared/data .venv/bin/python benchmarks/results.py [--presets a,b] [--skip-train]

For each preset: train it (unless runs/results/<preset> already finished), then `ganforge eval`
(10,000 samples; toy data: 2,500 points as in PacGAN). The real-data baselines (10k training
images vs the test split) are measured the same way. Results are also kept as JSON in
docs/results.json, so that a partial re-run updates only its rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ["classic_mnist", "mlp_mnist", "demo_mnist", "dcgan_mnist", "wgan_gp_mnist", "hinge_sn_mnist",
           "hinge64_mnist", "selfcond_mnist", "dcgan_fashion", "hinge64_fashion", "selfcond_fashion", "dcgan_stacked_mnist", "hinge64_stacked_mnist",
           "selfcond_stacked_mnist",
           "acgan_mnist", "acgan_fashion", "projection_hinge_mnist",
           "ring8", "grid25"]
PUBLISHED = {  # PacGAN (Lin et al. 2018) tables 1 and 2 (Stacked MNIST numbers as VEEGAN reports them)
    "ring8": "PacGAN table 1: GAN 6.3 modes, 98.2% HQ, rev-KL 0.45; PacGAN2 7.9, 95.6%, 0.07",
    "grid25": "PacGAN table 1: GAN 17.3 modes, 94.8% HQ, rev-KL 0.70; PacGAN2 23.8, 91.3%, 0.13",
    "dcgan_stacked_mnist": "VEEGAN / PacGAN: DCGAN 99 modes, KL 3.40; PacDCGAN2 1000 modes, KL 0.06",
}
PUBLISHED["hinge64_stacked_mnist"] = PUBLISHED["selfcond_stacked_mnist"] = PUBLISHED["dcgan_stacked_mnist"]
CURVES = ["classic_mnist", "mlp_mnist", "dcgan_mnist", "wgan_gp_mnist", "hinge_sn_mnist"]


def train_preset(name: str, skip: bool) -> tuple[Path, float | None]:
    from ganforge.choices import load_config
    from ganforge.runs import RunDir
    from ganforge.training.run import train

    run_dir = ROOT / "runs" / "results" / name
    if RunDir(run_dir).last.exists():
        return run_dir, json.loads((run_dir / "train_seconds.json").read_text())["seconds"] if (
            run_dir / "train_seconds.json").exists() else None
    if skip:
        raise SystemExit(f"{run_dir} missing and --skip-train given")
    cfg = load_config(ROOT / "configs" / f"{name}.toml", ["log.progress=false"])
    start = time.time()
    train(cfg, run_dir=run_dir)
    seconds = time.time() - start
    (run_dir / "train_seconds.json").write_text(json.dumps({"seconds": seconds}))
    return run_dir, seconds


def main() -> None:
    from ganforge.choices import load_config
    from ganforge.evaluation.run import run_eval

    p = argparse.ArgumentParser()
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--baselines", default="mnist,fashion_mnist,stacked_mnist")
    p.add_argument("--skip-train", action="store_true")
    args = p.parse_args()
    store = ROOT / "docs" / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {"presets": {}, "baselines": {}}
    for data in filter(None, args.baselines.split(",")):
        # the data set's default metrics: fid,kid,is,prdc (MNIST-like), fid,kid,prdc,modes (Stacked MNIST)
        results["baselines"][data] = run_eval(None, None, baseline=data, progress=False)
        print(data, results["baselines"][data], flush=True)
    for name in filter(None, args.presets.split(",")):
        run_dir, seconds = train_preset(name, args.skip_train)
        cfg = load_config(run_dir / "config.toml")
        r = run_eval(str(run_dir), None, progress=False)  # n: 2,500 toy, 26,000 stacked, else 10,000
        images = r["step"] * cfg.data.batch_size * cfg.train.d_steps
        results["presets"][name] = {"data": cfg.data.name, "loss": cfg.loss.name, "arch": cfg.model.g.arch,
                                    "conditioning": cfg.model.conditioning,
                                    "regularizers": regularizers(cfg), "train_images": images,
                                    "train_seconds": seconds, "eval": r, "published": PUBLISHED.get(name, "")}
        print(name, results["presets"][name], flush=True)
        store.parent.mkdir(exist_ok=True)
        store.write_text(json.dumps(results, indent=2) + "\n")
    store.write_text(json.dumps(results, indent=2) + "\n")
    from ganforge.viz import plot_eval_curves

    runs = {n: ROOT / "runs" / "results" / n for n in CURVES if (ROOT / "runs" / "results" / n).is_dir()}
    if len(runs) == len(CURVES):  # a partial re-run keeps the existing picture
        plot_eval_curves(runs, ROOT / "docs" / "images" / "fid_curves.png",
                         title="MNIST FID (2,000 samples) during training")
    write_results_md(render(results))
    update_readme(render(results))
    print(f"wrote {store}, docs/results.md and the README's results section")


TUTORIALS_MARK = "<!-- tutorials:start -->"  # docs/results.md from here on is the tutorials' table, kept as it is


def write_results_md(markdown: str) -> None:
    """docs/results.md: the rendered tables, then the tutorials section the file already holds (measured
    by its own commands, README "The tutorials, reproduced")."""
    path = ROOT / "docs" / "results.md"
    old = path.read_text() if path.exists() else ""
    tail = old[old.index(TUTORIALS_MARK):] if TUTORIALS_MARK in old else ""
    path.write_text(markdown + ("\n" + tail if tail else ""))


def update_readme(markdown: str) -> None:
    """Put the tables (without their title) between the README's results markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return
    body = markdown.split("\n", 2)[2].replace("\n## ", "\n### ")
    head, rest = text.split(start, 1)
    readme.write_text(head + start + "\n" + body + rest[rest.index(end):])


def regularizers(cfg) -> str:
    per = " per-channel" if cfg.model.cluster_channels else ""
    parts = [f"self-conditioned, {cfg.model.clusters}{per} {cfg.model.cluster_method} clusters"] if cfg.model.clusters else []
    if cfg.loss.gp_weight:
        parts.append(f"GP {cfg.loss.gp_weight:g}")
    if cfg.loss.r1_gamma:
        parts.append(f"R1 {cfg.loss.r1_gamma:g}")
    if cfg.model.d.spectral_norm:
        parts.append("SN")
    if cfg.model.d.pack > 1:
        parts.append(f"pack {cfg.model.d.pack}")
    if cfg.model.d.dropout:
        parts.append(f"dropout {cfg.model.d.dropout:g}")
    if cfg.loss.real_label < 1:
        parts.append(f"label {cfg.loss.real_label:g}")
    if cfg.train.ema_kimg:
        parts.append(f"EMA {cfg.train.ema_kimg:g}k")
    if cfg.train.d_steps > 1:
        parts.append(f"{cfg.train.d_steps} D steps")
    if cfg.optim.g_lr != cfg.optim.d_lr:
        parts.append(f"TTUR {cfg.optim.g_lr:g}/{cfg.optim.d_lr:g}")
    if cfg.optim.schedule != "constant":
        parts.append(f"{cfg.optim.schedule} lr decay")
    return ", ".join(parts) or "-"


def _f(v, fmt=".2f"):
    return "" if v is None else format(v, fmt)


def render(results: dict) -> str:
    out = ["# Results", "",
           "Measured on a 2-core CPU (torch 2.13.0 CPU build) by `benchmarks/results.py`. Image metrics use the",
           "shipped classifier of the data set (128-d features; FID/KID/PRDC against the 10,000-image test split;",
           "IS from its softmax); toy metrics follow PacGAN's table 1 (2,500 samples, high quality = within",
           "3 std of the nearest mode). KID is x1000. Class freq.: the largest difference, over the ten",
           "classes, between how often the classifier predicts a class on unconditional samples and the",
           "class's share of the training set, in percentage points.", "",
           "## Real data (10,000 training images vs the test split)", "",
           "| data | FID | KID | IS | precision | recall | density | coverage | modes | KL |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for data, r in results["baselines"].items():
        out.append(f"| {data} | {_f(r.get('fid'))} | {_f(r.get('kid_mean', 0) * 1000)} | {_f(r.get('is_mean'))} | "
                   f"{_f(r.get('precision'), '.3f')} | {_f(r.get('recall'), '.3f')} | {_f(r.get('density'), '.3f')} | "
                   f"{_f(r.get('coverage'), '.3f')} | {r.get('modes', '')} | {_f(r.get('kl'), '.3f')} |")
    out += ["", "## Presets", "",
            "| preset | data | arch | loss | regularizers | images seen | train time | FID | KID | IS | precision | recall | density | coverage | class freq. | modes | KL |",
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    toy, conditional = [], []
    order = sorted(results["presets"], key=lambda n: PRESETS.index(n) if n in PRESETS else len(PRESETS))
    for name, p in ((n, results["presets"][n]) for n in order):
        r = p["eval"]
        if "fid" not in r:
            toy.append((name, p))
            continue
        if "accuracy" in r:
            conditional.append((name, p))
        t = f"{p['train_seconds'] / 60:.1f} min" if p.get("train_seconds") else ""
        # unconditional samples only: a conditional run's labels are drawn uniformly, not as in the training set
        freq = _f(r.get("class_freq_max_dev"), ".1f") + " pp" if "class_freq_max_dev" in r and "accuracy" not in r else ""
        out.append(f"| `{name}` | {p['data']} | {p.get('arch', '')} | {p['loss']} | {p.get('regularizers', '')} | "
                   f"{p['train_images']:,} | {t} | {_f(r['fid'])} | "
                   f"{_f(r.get('kid_mean', 0) * 1000)} | {_f(r.get('is_mean'))} | {_f(r.get('precision'), '.3f')} | "
                   f"{_f(r.get('recall'), '.3f')} | {_f(r.get('density'), '.3f')} | {_f(r.get('coverage'), '.3f')} | "
                   f"{freq} | {r.get('modes', '')} | {_f(r.get('kl'))} |")
    published = [f"- `{n}`: {p['published']}" for n, p in results["presets"].items() if p.get("published")
                 and "fid" in p["eval"]]
    if published:
        out += ["", "Published numbers for comparison:", *published]
    if conditional:
        out += ["", "## Conditional models (10,000 samples, balanced labels)", "",
                "| preset | data | conditioning | loss | class accuracy | worst class | intra-class FID | FID |",
                "|---|---|---|---|---:|---:|---:|---:|"]
        for name, p in conditional:
            r = p["eval"]
            worst = min(r["accuracy_per_class"])
            out.append(f"| `{name}` | {p['data']} | {p.get('conditioning', '')} | {p['loss']} | "
                       f"{100 * r['accuracy']:.2f}% | {100 * worst:.1f}% | {_f(r.get('intra_fid'))} | {_f(r['fid'])} |")
    if toy:
        out += ["", "## Toy mixtures (mode coverage)", "",
                "| preset | images seen | train time | modes | high quality | reverse KL | published |",
                "|---|---:|---:|---:|---:|---:|---|"]
        for name, p in toy:
            r = p["eval"]
            t = f"{p['train_seconds']:.0f} s" if p.get("train_seconds") else ""
            out.append(f"| `{name}` | {p['train_images']:,} | {t} | {r['modes']}/{r['num_modes']} | "
                       f"{100 * r['high_quality']:.1f}% | {_f(r['reverse_kl'], '.3f')} | {p['published']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--render-only"]:  # re-render docs/results.md and the README from results.json
        data = json.loads((ROOT / "docs" / "results.json").read_text())
        write_results_md(render(data))
        update_readme(render(data))
    else:
        main()
