"""DiffAugment: identity at p=0, differentiable (gradients reach G), each transformation does what
it says, adaptive p follows the r_t heuristic, and training with it resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import small_config
from ganforge.objectives.augment import Augment, color, cutout, translation
from ganforge.training.run import resume, train

IMAGES = {"data": {"name": "mnist", "batch_size": 16},
          "model": {"latent_dim": 8, "g": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
                    "d": {"arch": "dcgan", "width": 8}}}


def test_identity_at_probability_zero():
    x = torch.randn(8, 3, 16, 16)
    assert torch.equal(Augment(["translation", "cutout", "color"], p=0.0)(x), x)


def test_gradients_pass_through_every_augmentation():
    torch.manual_seed(0)
    for fn in (translation, cutout, color):
        x = torch.randn(4, 1, 8, 8, requires_grad=True)
        fn(x).square().sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_is_a_zero_filled_integer_shift():
    torch.manual_seed(1)
    x = torch.arange(1, 1 + 16 * 16, dtype=torch.float32).view(1, 1, 16, 16).repeat(6, 1, 1, 1)
    out = translation(x)
    for i in range(6):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                want = torch.zeros(16, 16)
                src = x[i, 0]
                ys, xs = slice(max(0, -dy), 16 - max(0, dy)), slice(max(0, -dx), 16 - max(0, dx))
                yd, xd = slice(max(0, dy), 16 - max(0, -dy)), slice(max(0, dx), 16 - max(0, -dx))
                want[ys, xs] = src[yd, xd]
                matches.append(torch.equal(out[i, 0], want))
        assert sum(matches) == 1  # exactly one shift within +-1/8 of the size explains it


def test_cutout_zeros_one_square_of_half_the_size():
    torch.manual_seed(2)
    out = cutout(torch.ones(20, 1, 16, 16))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert (zeros > 0).all() and (zeros <= 8 * 8).all() and (zeros == 64).any()
    for img in out[:, 0]:  # the zeros form a rectangle
        rows, cols = torch.where(img == 0)
        assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_color_is_a_per_image_affine_map():
    torch.manual_seed(3)
    x = torch.rand(5, 3, 8, 8)
    out = color(x)
    for i in range(5):  # brightness + saturation + contrast: out = a * x + b(pixel mean terms) per image
        assert not torch.equal(out[i], x[i])
    assert out.shape == x.shape


def test_adaptive_p_moves_towards_the_target():
    aug = Augment(["color"], p=0.5, target=0.6, kimg=1.0)  # 1k images move p by 1
    for _ in range(Augment.INTERVAL):
        aug.observe(torch.ones(50))  # D is sure everything real is real: r_t = 1 > 0.6
    assert aug.rt == 1.0 and aug.p == pytest.approx(0.5 + 200 / 1000)
    for _ in range(Augment.INTERVAL * 10):
        aug.observe(-torch.ones(50))  # r_t = -1 < 0.6: p goes down, clamped at 0
    assert aug.p == 0.0


def test_training_with_augmentation_logs_p_and_resumes_exactly(fake_mnist):
    sections = {**IMAGES, "loss": {"augment": ["translation", "cutout", "color"], "augment_p": 0.5,
                                   "augment_target": 0.6, "augment_kimg": 0.1},
                "train": {"steps": 12}, "log": {"every": 1, "checkpoint_every": 0}}
    full, t_full, _ = train(small_config(**sections), run_dir="full")
    rows = [json.loads(line) for line in open("full/metrics.jsonl")]
    assert all("augment_p" in r and "ada_rt" in r for r in rows)
    assert len({r["augment_p"] for r in rows}) > 1  # adaptive p moved
    sections["train"] = {"steps": 6}
    half, _, _ = train(small_config(**sections), run_dir="half")
    _, t_res, _ = resume(half, ["train.steps=12"])
    got = [json.loads(line) for line in open("half/metrics.jsonl")]
    for g, w in zip(got, rows):
        assert g["step"] == w["step"] and g["d_loss"] == pytest.approx(w["d_loss"], abs=1e-6)
        assert g["augment_p"] == w["augment_p"]
    assert all(torch.equal(a, b) for a, b in zip(t_res.G.state_dict().values(), t_full.G.state_dict().values()))
