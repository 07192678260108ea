"""benchmarks/profile_step.py: a tiny MLP profiled for 2 steps in fp32 (categories that add up, the
matmul/conv category and its inside-kernel fraction of the peak, the JSON and the summary line), its
category table on the operators the presets' steps show, and one-line errors for bad arguments."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = (f"tiny={ROOT / 'configs' / 'mlp_mnist.toml'} model.g.hidden=[32] model.d.hidden=[32] "
        "data.batch_size=32")


@pytest.fixture(scope="module")
def prof():
    spec = importlib.util.spec_from_file_location("profile_step", ROOT / "benchmarks" / "profile_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["profile_step"] = module
    spec.loader.exec_module(module)
    return module


def test_categories_of_the_ops_seen(prof):
    expected = {
        "aten::mm": prof.MATMUL, "aten::addmm": prof.MATMUL, "aten::convolution_backward": prof.MATMUL,
        "aten::mkldnn_convolution": prof.MATMUL, "aten::_convolution": prof.MATMUL,
        "aten::native_batch_norm_backward": "normalization", "aten::_to_copy": "dtype casts",
        "aten::copy_": "copies", "aten::_fused_adam_": "optimizer, EMA", "aten::_foreach_mul_": "optimizer, EMA",
        "Optimizer.step#Adam.step": "optimizer, EMA", "aten::leaky_relu_backward": "activations, elementwise",
        "aten::mul": "activations, elementwise", "aten::softplus": "reductions, losses",
        "AddmmBackward0": "autograd engine", "autograd::engine::evaluate_function: MulBackward0": "autograd engine",
        "aten::view": "views, allocation, scalars", "aten::some_new_op": prof.OTHER,
    }
    assert {name: prof.category_of(name) for name in expected} == expected
    assert prof.range_category("Optimizer.zero_grad#Adam.zero_grad") == "optimizer, EMA"
    assert prof.range_category("aten::to") == "dtype casts" and prof.range_category("aten::mm") is None


def test_tiny_mlp_profile(prof, fake_mnist, tmp_path, capsys):
    out_json = tmp_path / "p.json"
    assert prof.main(["--presets", TINY, "--precisions", "fp32", "--steps", "2", "--warmup", "1",
                      "--peak-size", "64", "--json", str(out_json)]) == 0
    result = json.loads(out_json.read_text())
    assert {"torch", "device", "steps", "warmup", "peak_size", "peak_gflop_per_s", "categories", "runs"} <= set(result)
    assert len(result["runs"]) == 1
    r = result["runs"][0]
    assert {"preset", "precision", "threads", "batch_size", "flops_per_step", "img_per_s", "step_ms",
            "profiled_step_ms", "gflop_per_s", "fraction_of_peak", "peak_gflop_per_s", "categories", "matmul",
            "top_ops", "summary"} <= set(r)
    assert (r["preset"], r["precision"], r["steps"], r["batch_size"]) == ("tiny", "fp32", 2, 32)
    assert sum(c["share"] for c in r["categories"].values()) == pytest.approx(1.0, abs=1e-6)
    assert set(r["categories"]) <= set(prof.CATEGORY_ORDER)
    mm = r["categories"][prof.MATMUL]
    assert mm["ms_per_step"] > 0 and mm["share"] > 0 and any(n in mm["ops"] for n in ("aten::mm", "aten::addmm"))
    inside = r["matmul"]["fraction_of_peak_inside"]
    assert math.isfinite(inside) and inside > 0
    assert inside == pytest.approx(r["matmul"]["gflop_per_s_inside"] / r["peak_gflop_per_s"], rel=1e-6)
    assert r["fraction_of_peak"] == pytest.approx(r["gflop_per_s"] / r["peak_gflop_per_s"], rel=1e-6)
    assert 0 < len(r["top_ops"]) <= prof.TOP and all(op["calls_per_step"] > 0 for op in r["top_ops"])
    assert [op["self_ms_per_step"] for op in r["top_ops"]] == sorted((op["self_ms_per_step"] for op in r["top_ops"]),
                                                                    reverse=True)
    out = capsys.readouterr().out
    assert r["summary"].startswith("tiny fp32: step at ") and "of the fp32 peak" in r["summary"]
    assert f"  {r['summary']}" in out.split("what limits each step:")[1]


@pytest.mark.parametrize("args, words", [(["--presets", "nope"], ["unknown preset 'nope'", "mlp_mnist"]),
                                         (["--precisions", "fp32,fp8"], ["unknown precision fp8", "fp32,bf16"]),
                                         (["--presets", "x="], ["NAME=CONFIG"])])
def test_bad_arguments_are_one_line(prof, capsys, args, words):
    assert prof.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and all(w in err for w in words), err
