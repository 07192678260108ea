"""Anomaly detection with a trained GAN: f-AnoGAN (Schlegl et al. 2019, Medical Image Analysis 54).

A GAN trained on normal images only knows how to draw normal images. f-AnoGAN trains an encoder E
(G and D frozen) so that G(E(x)) reconstructs x, with the izi_f loss

    L(x) = 1/n ||x - G(E(x))||^2  +  kappa / n_d ||f(x) - f(G(E(x)))||^2

where f is D's last feature layer (what ``D.head`` receives; n and n_d count pixels and features).
The anomaly score of an image is the same sum: an anomaly is reconstructed badly, in pixels and in
D's features.

The encoder has the run's discriminator architecture (without its normalisation of weights,
packing, minibatch std and noise layers) with a linear head to the latent space. ``fit_encoder``
trains it on the run's own training data and saves it as ``RUN/anomaly/encoder.pt`` (resumable:
a second ``fit`` continues where the first stopped, Ctrl-C saves); ``score_images`` scores images
and writes a CSV and a grid of the most anomalous inputs, their reconstructions and residual maps.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GanforgeError
from ..models.layers import BATCH_NORMS
from ..objectives.gan_loss import head_input
from ..data.batches import to_unit
from ..viz import to_uint8
from .common import load_models, read_images

ENCODER_FILE = Path("anomaly") / "encoder.pt"
METRICS_FILE = Path("anomaly") / "metrics.jsonl"


class LatentHead(nn.Module):
    """The encoder's last layer: D's features -> a latent vector (tanh for a uniform latent)."""

    def __init__(self, feat_dim: int, latent_dim: int, bounded: bool):
        super().__init__()
        self.linear = nn.Linear(feat_dim, latent_dim)
        self.bounded = bounded

    def forward(self, h: torch.Tensor, y=None, return_classes: bool = False) -> torch.Tensor:
        z = self.linear(h)
        return torch.tanh(z) if self.bounded else z


def build_encoder(cfg) -> nn.Module:
    """E: images -> latent vectors, built as the run's discriminator architecture with a latent head."""
    from ..data import data_info
    from ..models import build_discriminator

    mcfg = copy.deepcopy(cfg.model)
    mcfg.conditioning = "none"
    net = mcfg.d
    net.pack, net.mbstd_group, net.dropout, net.noise, net.input_noise = 1, 0, 0.0, 0.0, 0.0
    net.spectral_norm = net.weight_norm = False
    E = build_discriminator(mcfg, data_info(cfg.data))
    E.head = LatentHead(E.head.linear.in_features, mcfg.latent_dim, mcfg.latent_dist == "uniform")
    return E


def check_run(cfg, source) -> None:
    """f-AnoGAN needs an unconditional G and a D that judges single images."""
    from ..models.conditioning import generator_conditional

    if generator_conditional(cfg.model) or cfg.model.conditioning == "projection":
        raise GanforgeError(f"anomaly detection needs an unconditional generator; {source} is a "
                            f"model.conditioning={cfg.model.conditioning} run (train one with model.conditioning=none)")
    if cfg.model.d.pack > 1:
        raise GanforgeError(f"anomaly detection reads D's features of single images; {source} packs "
                            f"{cfg.model.d.pack} samples per D input (model.d.pack)")


def residuals(G, D, E, x: torch.Tensor, kappa: float = 1.0) -> dict:
    """{'recon', 'image', 'feature', 'score'} of images ``x`` in [-1, 1]: G(E(x)) and the per-image
    residuals (gradients flow to E: this is also the training loss)."""
    recon = G(E(x))
    with head_input(D) as seen:
        D(x)
        D(recon)
    f_x, f_r = seen[0].float(), seen[1].float()
    image = (x - recon).square().flatten(1).mean(1)
    feature = (f_x - f_r).square().flatten(1).mean(1)
    return {"recon": recon, "image": image, "feature": feature, "score": image + kappa * feature}


def auroc(scores, positive) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counted half
    (the Mann-Whitney U statistic over the product of the class sizes)."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise GanforgeError("AUROC needs both anomalies and normal images among the scored images")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _paths(source):
    from ..runs import resolve

    run, _ = resolve(source)
    return run, run.path / ENCODER_FILE, run.path / METRICS_FILE


def _has_encoder(enc_path: Path) -> bool:
    """An encoder checkpoint, or the previous one that loading falls back to, exists."""
    from ..training.checkpoint import previous_of

    return enc_path.exists() or previous_of(enc_path).exists()


def fit_encoder(source, steps: int | None = None, kimg: float | None = None, batch_size: int | None = None,
                lr: float = 2e-4, kappa: float = 1.0, seed: int = 0, device: str = "auto",
                progress: bool = True, log_every: int = 50, checkpoint_every: int = 500) -> dict:
    """Train (or continue training) the encoder of run ``source``; returns the last log record with
    ``status`` ("finished", "interrupted" or "already finished") and the encoder file."""
    from ..build import resolve_device
    from ..data import build_data
    from ..training.checkpoint import load_checkpoint, save_checkpoint
    from ..training.rng import rng_state, seed_everything, set_rng_state

    dev = resolve_device(device)
    G, D, cfg, _ = load_models(source, dev, "ganforge anomaly fit")
    check_run(cfg, source)
    run, enc_path, metrics_path = _paths(source)
    seed_everything(seed)
    E = build_encoder(cfg).to(dev)
    opt = torch.optim.Adam(E.parameters(), lr=lr, betas=(0.5, 0.999))
    previous = load_checkpoint(enc_path) if _has_encoder(enc_path) else None
    dcfg = copy.deepcopy(cfg.data)
    dcfg.labels_per_class = 0
    dcfg.batch_size = batch_size or (previous["batch_size"] if previous else cfg.data.batch_size)
    if dcfg.batch_size < 2 and cfg.model.d.norm in BATCH_NORMS:
        raise GanforgeError("--batch-size must be >= 2 for an encoder with batch norm")
    data = build_data(dcfg, seed, dev, progress=progress)
    step = 0
    if previous is not None:
        try:
            E.load_state_dict(previous["encoder"])
            opt.load_state_dict(previous["opt"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise GanforgeError(f"{enc_path} does not match this run's models ({str(exc).splitlines()[0][:120]}); "
                                f"move it away to fit a new encoder") from None
        data.load_state_dict(previous["data"])
        set_rng_state(previous["rng"])
        step, kappa = int(previous["step"]), float(previous["kappa"])
    if steps is None and kimg is not None:
        steps = max(1, math.ceil(kimg * 1000 / dcfg.batch_size))
    total = steps or (int(previous["total_steps"]) if previous else math.ceil(300_000 / dcfg.batch_size))

    def state() -> dict:
        return {"step": step, "total_steps": total, "encoder": E.state_dict(), "opt": opt.state_dict(),
                "data": data.state_dict(), "rng": rng_state(), "kappa": kappa, "batch_size": dcfg.batch_size,
                "lr": lr}

    if step >= total:
        return {"status": "already finished", "step": step, "encoder": str(enc_path)}
    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, desc="anomaly fit", disable=not progress, file=sys.stderr, leave=False)
    acc = torch.zeros(3, device=dev)
    n_acc, record, status = 0, {}, "finished"
    clock = time.perf_counter()
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    E.train()
    try:
        while step < total:
            x, _ = data.next()
            r = residuals(G, D, E, x, kappa)
            loss = r["score"].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            acc += torch.stack([loss.detach(), r["image"].detach().mean(), r["feature"].detach().mean()])
            n_acc += 1
            if step % log_every == 0 or step == total:
                vals = (acc / n_acc).tolist()
                if not all(math.isfinite(v) for v in vals):
                    raise GanforgeError(f"the encoder's loss became {vals[0]} at step {step}; try a lower --lr "
                                        f"(the last checkpoint {enc_path} is kept)")
                now = time.perf_counter()
                record = {"step": step, "loss": vals[0], "image_residual": vals[1], "feature_residual": vals[2],
                          "img_per_s": round(n_acc * dcfg.batch_size / max(now - clock, 1e-9), 1)}
                clock, n_acc = now, 0
                acc.zero_()
                with open(metrics_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                bar.set_postfix(loss=f"{vals[0]:.4f}")
            bar.update(1)
            if checkpoint_every and step % checkpoint_every == 0 and step < total:
                save_checkpoint(state(), enc_path)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        bar.close()
    save_checkpoint(state(), enc_path)
    return {**record, "step": step, "status": status, "encoder": str(enc_path)}


def load_encoder(source, cfg, device="cpu") -> tuple[nn.Module, dict]:
    """(encoder in eval mode, its checkpoint) of run ``source``; a clear error when none was fitted."""
    from ..training.checkpoint import load_checkpoint

    run, enc_path, _ = _paths(source)
    if not _has_encoder(enc_path):
        raise GanforgeError(f"{run} has no anomaly encoder; fit one first: ganforge anomaly fit {run}")
    state = load_checkpoint(enc_path)
    E = build_encoder(cfg).to(device)
    try:
        E.load_state_dict(state["encoder"])
    except (RuntimeError, KeyError) as exc:
        raise GanforgeError(f"{enc_path} does not match the run's models ({str(exc).splitlines()[0][:120]})") from None
    return E.eval().requires_grad_(False), state


@torch.no_grad()
def score_array(G, D, E, images: np.ndarray, kappa: float = 1.0, batch: int = 500, device="cpu",
                keep_recon: np.ndarray | None = None) -> dict:
    """Scores of uint8 images (N x C x H x W): {'score', 'image', 'feature'} arrays; the
    reconstructions of the indices ``keep_recon`` under 'recon' (uint8)."""
    out = {"score": [], "image": [], "feature": []}
    recon = {}
    keep = set(keep_recon.tolist()) if keep_recon is not None else set()
    for i in range(0, len(images), batch):
        x = to_unit(torch.as_tensor(images[i:i + batch])).to(device)
        r = residuals(G, D, E, x, kappa)
        for k in out:
            out[k].append(r[k].cpu())
        for j in range(len(x)):
            if i + j in keep:
                recon[i + j] = to_uint8(r["recon"][j].cpu())
    result = {k: torch.cat(v).numpy() for k, v in out.items()}
    if keep:
        result["recon"] = np.stack([recon[i].numpy() for i in keep_recon.tolist()])
    return result


def anomaly_grid(images: np.ndarray, recon: np.ndarray, path: Path, scale: int = 3):
    """Three rows: the inputs, their reconstructions G(E(x)), and the residual maps |x - G(E(x))|
    (brightest = largest residual, over all channels)."""
    from ..viz import make_grid

    diff = np.abs(images.astype(np.int16) - recon.astype(np.int16)).max(axis=1, keepdims=True).astype(np.uint8)
    if images.shape[1] == 3:
        diff = np.repeat(diff, 3, axis=1)
    rows = np.concatenate([images, recon, diff])
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(rows, nrow=len(images), scale=scale).save(path)
    return path


def score_images(source, images: str, out: str | None = None, grid: str | None = None, top: int = 16,
                 device: str = "auto") -> dict:
    """Score ``images`` (see :func:`ganforge.applications.common.read_images`) with run ``source``'s
    f-AnoGAN; writes ``out`` (CSV: name, score, image and feature residuals, label when known) and
    ``grid`` (the ``top`` highest scores). With labels and a run trained with ``data.exclude_classes``
    the result holds the AUROC of the excluded classes as anomalies."""
    from ..build import resolve_device

    dev = resolve_device(device)
    G, D, cfg, _ = load_models(source, dev, "ganforge anomaly score")
    check_run(cfg, source)
    E, enc_state = load_encoder(source, cfg, dev)
    if int(enc_state["step"]) < int(enc_state["total_steps"]):
        print(f"warning: the encoder was fitted for {enc_state['step']} of {enc_state['total_steps']} steps; "
              f"continue with: ganforge anomaly fit {source}", file=sys.stderr)
    x, labels, names = read_images(images, cfg)
    kappa = float(enc_state["kappa"])
    first = score_array(G, D, E, x, kappa, device=dev)
    order = np.argsort(-first["score"], kind="stable")
    top_idx = order[:min(top, len(order))]
    result = {"n": int(len(x)), "kappa": kappa, "mean_score": float(first["score"].mean())}
    if labels is not None and cfg.data.exclude_classes:
        positive = np.isin(labels, cfg.data.exclude_classes)
        result["anomaly_classes"] = list(cfg.data.exclude_classes)
        result["auroc"] = auroc(first["score"], positive)
        result["auroc_image_residual"] = auroc(first["image"], positive)
        result["auroc_feature_residual"] = auroc(first["feature"], positive)
    run, _, _ = _paths(source)
    out_path = Path(out) if out else run.path / "anomaly" / "scores.csv"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "score", "image_residual", "feature_residual"] + (["label"] if labels is not None else []))
        for i in range(len(x)):
            row = [names[i], f"{first['score'][i]:.6g}", f"{first['image'][i]:.6g}", f"{first['feature'][i]:.6g}"]
            w.writerow(row + ([int(labels[i])] if labels is not None else []))
    result["csv"] = str(out_path)
    if top > 0:
        again = score_array(G, D, E, x[top_idx], kappa, device=dev, keep_recon=np.arange(len(top_idx)))
        grid_path = Path(grid) if grid else run.path / "anomaly" / "most_anomalous.png"
        anomaly_grid(x[top_idx], again["recon"], grid_path)
        result["grid"] = str(grid_path)
        result["top"] = [{"name": names[i], "score": float(first["score"][i]),
                          **({"label": int(labels[i])} if labels is not None else {})} for i in top_idx]
    return result
