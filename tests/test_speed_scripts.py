"""The speed scripts: benchmarks/peak_levers.py (its plan of cells, one cell timed in-process and one in
its own process, the ratio table) and benchmarks/gpu_check.sh (its one line without CUDA, and every
command of its plan checked against the CLI and the configs, so that neither can rot unnoticed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganforge.build import build_experiment
from ganforge.cli import build_parser
from ganforge.choices import load_config
from ganforge.flops import step_flops

ROOT = Path(__file__).resolve().parents[1]
TINY = f"tiny={ROOT / 'configs' / 'ring8.toml'} model.g.hidden=[16] model.d.hidden=[16] train.ema_kimg=0"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def levers():
    return _script("peak_levers")


def test_plan_changes_one_lever_at_a_time(levers):
    cells = levers.plan(levers.PRESETS, ["fp32", "bf16"], levers.GROUPS, 10.0, 2.0, "cpu", threads=2)
    by_row = {}
    for c in cells:
        by_row.setdefault((c["preset"], c["precision"]), []).append(c)
    assert len(by_row) == 6
    mlp = [c["lever"] for c in by_row["mlp_mnist", "fp32"]]
    assert mlp == ["baseline", "batch 64", "batch 256", "batch 512", "compile", "max-autotune-no-cudagraphs",
                   "1 thread", "interop 1", "no mkldnn"]  # batch 128 is the baseline; an MLP has no layout lever
    conv = [c["lever"] for c in by_row["dcgan_mnist_w128", "bf16"]]
    assert "NCHW" in conv and "batch 64" not in conv and "batch 128" in conv
    for row in by_row.values():
        base = row[0]
        assert base["lever"] == "baseline" and base["compile"] == "none" and base["mkldnn"] and not base["threads"]
        for c in row[1:]:
            changed = {k for k in base if k != "lever" and c[k] != base[k]}
            assert len(changed) == 1, (c["lever"], changed)
    assert by_row["dcgan_mnist_w128", "bf16"][0]["overrides"] == ["model.g.width=128", "model.d.width=128"]


def test_ratio_table(levers):
    def cell(lever, **kw):
        return {"preset": "p", "precision": "bf16", "lever": lever, **kw}

    base = dict(img_per_s=1000.0, flops_per_step=2.5e9, gflop_per_s=39.1, fraction_of_peak=0.0421)
    table = levers.markdown([cell("baseline", **base), cell("batch 256", **{**base, "img_per_s": 1500.0,
                                                                                "fraction_of_peak": 0.063}),
                             cell("compile", error="timeout after 900 s"), cell("no mkldnn", error="RuntimeError: x")])
    head, _, row = table.splitlines()
    assert head.split(" | ")[6:9] == ["batch 256", "compile", "no mkldnn"]
    assert row == "| `p` | bf16 | 1,000 | 2.5 | 39.1 | 4.2% | 1.50x | timeout | error | 6.3% (batch 256) |"


def test_one_cell_in_process(levers, fake_mnist):
    cfg_text = TINY.split("=", 1)[1].split()
    cell = {"preset": "tiny", "config": cfg_text[0], "overrides": cfg_text[1:], "precision": "fp32", "lever": "baseline",
            "batch": 50, "channels_last": True, "compile": "none", "threads": 1, "interop": 0, "mkldnn": True,
            "seconds": 0.2, "warmup": 0.0, "device": "cpu"}
    r = levers.run_cell(cell)
    exp = build_experiment(load_config(cfg_text[0], [*cfg_text[1:], "data.batch_size=50"]), progress=False)
    flops = step_flops(exp.cfg, exp.G, exp.D).total
    assert r["flops_per_step"] == flops and r["threads_used"] == 1 and r["chunks"] >= 2
    assert r["gflop_per_s"] == pytest.approx(flops * r["img_per_s"] / 50 / 1e9, rel=0.01)


def test_levers_end_to_end(levers, tmp_path, monkeypatch, capsys):
    """main() with the cells run in-process, then one cell in its own process (inter-op threads, oneDNN off)."""
    monkeypatch.setattr(levers, "run_in_process", lambda cell, timeout: levers.run_cell({**cell, "threads": 1}))
    assert levers.main(["--quick", "--seconds", "0.1", "--warmup", "0", "--preset", TINY, "--precisions", "fp32",
                        "--levers", "batch", "--peak-size", "64", "--out", str(tmp_path / "l.json"),
                        "--md", str(tmp_path / "l.md")]) == 0
    saved = json.loads((tmp_path / "l.json").read_text())
    assert [c["lever"] for c in saved["cells"]] == ["baseline", "batch 64", "batch 128", "batch 256", "batch 512"]
    assert all(c["fraction_of_peak"] == pytest.approx(c["gflop_per_s"] / c["peak_gflop_per_s"], rel=1e-3)
               for c in saved["cells"])
    md = (tmp_path / "l.md").read_text().splitlines()
    assert len(md) == 3 and md[2].startswith("| `tiny` | fp32 |") and md[2] in capsys.readouterr().out
    monkeypatch.undo()
    cell = {**saved["cells"][0], "interop": 1, "mkldnn": False, "seconds": 0.1}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    r = levers.run_in_process(cell, timeout=300)
    assert r.get("interop_used") == 1 and r["img_per_s"] > 0, r


def test_gpu_check_without_cuda_says_so_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check itself would run")
    env = {**os.environ, "PYTHON": sys.executable}
    p = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path / "out" / "gpu_check.md")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("\n") == 1 and "CUDA is not available" in p.stdout
    assert (tmp_path / "out" / "gpu_check.md").read_text() == p.stdout


def test_gpu_check_plan_is_runnable(tmp_path):
    """Every command of the check parses with today's CLI, every config with its overrides validates (on
    CUDA), and every script it runs exists."""
    check = _script("gpu_check")
    parts = check.plan(tmp_path)
    parser, commands = build_parser(), []
    for part in parts:
        if part.argv[:3] == [sys.executable, "-m", "ganforge"]:
            args = parser.parse_args(part.argv[3:])
            commands.append(args.command)
            if args.command in ("train", "bench"):
                assert load_config(str(ROOT / args.config), args.overrides).train.device == "cuda"
            if args.command == "bench":
                assert args.precision and args.json
        scripts = [a for a in part.argv[1:] if a.endswith(".py")]
        assert all((ROOT / a).is_file() for a in scripts), scripts
    # three presets: channels_last and NCHW in three precisions each, compiled in one precision per call
    assert commands.count("bench") == 3 * 2 + 3 * 3 and commands.count("train") == commands.count("eval") == 1
    assert "tests/test_cuda.py" in parts[2].argv and "--n" in parts[3].argv


def test_gpu_check_keeps_to_its_budget(tmp_path):
    """Parts that run to their limit: each gets what is left (less 5 s), later ones are skipped, and the
    whole stays within the budget; parts whose data are missing are skipped without time spent."""
    check = _script("gpu_check")
    parts = check.plan(tmp_path)

    def run(failing: str = ""):
        now = [0.0]

        def runner(part, limit):
            now[0] += limit
            return ("exit status 1" if part.name == failing else "ok", limit, "")

        results = list(check.run_all(parts, 440.0, runner, have_mnist=False, work=tmp_path, clock=lambda: now[0]))
        assert [r[0] for r in results] == parts and now[0] <= 440.0
        return {r[0].name: r[1] for r in results}

    status = run()
    assert status["CUDA tests"] == "ok" and status["demo training"].startswith("skipped: no MNIST")
    assert status["demo eval"] == "skipped: no demo run"  # needs the demo's checkpoint
    assert status["bench dcgan_faces64 model.channels_last=true fp32,bf16,fp16"] == "ok"
    assert list(status.values())[-1] == "skipped: out of time"
    status = run(failing="faces folder")
    assert all(s == "skipped: no faces folder" for n, s in status.items() if "faces64" in n)


def test_ab_step_compares_a_revision_with_the_working_tree(capsys):
    """benchmarks/ab_step.py loads HEAD's package beside the working tree's and times both in turn."""
    ab = _script("ab_step")
    result = ab.main(["--base", "HEAD", str(ROOT / "configs" / "ring8.toml"), "model.g.hidden=[16]",
                      "model.d.hidden=[16]", "--rounds", "2", "--steps", "2", "--warmup", "1"])
    assert set(result["rates"]) == {"HEAD", "working tree"}
    assert all(len(r) == 2 and min(r) > 0 for r in result["rates"].values())
    assert result["ratio"] == pytest.approx(sum(result["rates"]["working tree"]) / sum(result["rates"]["HEAD"]))
    assert "ratio working tree / HEAD" in capsys.readouterr().out
    assert "ganforge_base" in sys.modules and sys.modules["ganforge_base"] is not sys.modules["ganforge"]
