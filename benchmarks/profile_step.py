"""What limits a training step: for each preset and precision, the trainer of ``ganforge bench`` run
under PyTorch's profiler (CPU activities), its operators' self CPU time grouped into categories
(matmul/conv, normalization, activations and elementwise, dtype casts, copies, optimizer and EMA,
reductions and losses, spectral norm's power iteration, dropout, ...), and the FLOP/s that the
matmul/conv operators achieve *inside* themselves, as a fraction of the measured matmul peak.

    GANFORGE_DATA=DIR PYTHONPATH=src python benchmarks/profile_step.py [--presets NAME|NAME=CONFIG [OVERRIDES] ...]
        [--precisions fp32,bf16] [--steps 20] [--warmup 5] [--peak-size 2048] [--threads N] [--json FILE]

Each preset (default: the three of benchmarks/peak_levers.py; a name of those or ``NAME=CONFIG
[override ...]``) and precision is built as ``ganforge bench`` builds it (the config and its
overrides, ``train.precision``, the trainer with its progress bar and metrics.jsonl logging), on the
CPU. After ``--warmup`` steps, ``--steps`` steps are timed without the profiler (img/s, the step's
GFLOP/s and fraction of the peak, as ganforge bench reports them) and then the same number under it.

Shares are of the profiled wall time: each operator's self time goes to the category of its name
(the table CATEGORIES below), unless it ran inside a range that names its purpose (the nearest one
wins): the optimizer's ``Optimizer.step``/``zero_grad``, ``aten::to`` (dtype casts, autocast's
included), and ranges this script opens around spectral norm's and dropout's forward and around the
trainer's statistics and NaN checks (those run at log steps and at the end of each run: once per
``--steps`` here, so fewer steps give them a larger share). Wall time that no operator covers is
"untracked" (Python between the operators). The model FLOPs of a step (ganforge.flops.step_flops)
over the self time of the matmul/conv operators give their inside-kernel FLOP/s; times the share of
the step they take, that is about the step's own fraction of the peak, so the two factors say
whether the kernels' speed or the time outside them limits it. The matmul peak of each precision
(square ``--peak-size`` matmuls, best of 5) is measured in the same process at the same thread
count. A table per preset and precision is printed (categories, the top 15 operators by self time)
with one summary line each, derived from the numbers; ``--json FILE`` writes them all.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganforge, installed or not

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from ganforge.errors import GanforgeError

PRECISIONS = ("fp32", "bf16")
MATMUL = "matmul/conv"
UNTRACKED = "untracked (Python between ops)"

# Each operator's category by name ("aten::" left off; shell patterns; the first category that
# matches wins). Chosen from the operators that the presets' steps show in fp32 and bf16.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (MATMUL, ("mm", "addmm", "bmm", "baddbmm", "addbmm", "addmv", "mv", "dot", "vdot", "outer", "ger", "addr",
              "matmul", "linear",
              "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "convolution",
              "_convolution", "convolution_backward", "convolution_overrideable", "mkldnn_convolution*",
              "mkldnn_linear*", "mkldnn_matmul", "_mkldnn_conv*", "onednn*", "_slow_conv2d_*", "slow_conv*",
              "thnn_conv*", "_nnpack_*", "cudnn_convolution*")),
    ("normalization", ("batch_norm", "native_batch_norm*", "_native_batch_norm_legit*", "_batch_norm_impl_index*",
                       "batch_norm_*", "cudnn_batch_norm*", "layer_norm", "native_layer_norm*", "group_norm",
                       "native_group_norm*", "instance_norm")),
    ("dtype casts", ("to", "_to_copy", "_autocast_to_*")),
    ("copies", ("copy_", "clone", "contiguous", "cat", "stack", "_FlattenChannelsLast*", "constant_pad_nd", "pad")),
    ("optimizer, EMA", ("Optimizer.*", "_foreach_*", "_fused_adam*", "_fused_sgd*", "addcdiv*", "addcmul*", "lerp*",
                        "sqrt*")),
    ("reductions, losses", ("sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any",
                            "isfinite", "norm", "linalg_vector_norm", "frobenius_norm", "std", "var", "logsumexp",
                            "softplus", "softplus_backward", "binary_cross_entropy*", "log_softmax", "_log_softmax*",
                            "nll_loss*", "cross_entropy*", "mse_loss*", "l1_loss*", "smooth_l1_loss*")),
    ("activations, elementwise", ("relu", "relu_", "threshold", "threshold_", "threshold_backward", "leaky_relu",
                                  "leaky_relu_", "leaky_relu_backward", "tanh", "tanh_", "tanh_backward", "sigmoid",
                                  "sigmoid_", "sigmoid_backward", "gelu", "gelu_backward", "silu", "silu_backward",
                                  "elu", "elu_backward", "hardtanh*", "clamp*", "add", "add_", "sub", "sub_", "rsub",
                                  "mul", "mul_", "div", "div_", "neg", "neg_", "abs", "abs_", "pow", "pow_", "exp",
                                  "exp_", "log", "log_", "log1p", "rsqrt", "reciprocal", "square", "where", "lt",
                                  "gt", "le", "ge", "eq", "ne", "bitwise_*", "__and__", "__or__", "__xor__",
                                  "logical_*", "masked_fill*", "fill_", "zero_", "sign", "maximum", "minimum",
                                  "upsample_*", "_upsample_*", "max_pool2d*", "avg_pool2d*", "adaptive_avg_pool2d*",
                                  "dropout", "native_dropout*", "feature_dropout")),
    ("random numbers, data indexing", ("random_", "normal_", "uniform_", "bernoulli*", "randn", "rand", "randint",
                                       "randperm", "multinomial", "index", "index_select", "gather", "embedding*")),
    ("autograd engine", ("autograd::*", "torch::autograd::*", "*Backward[0-9]", "*Backward[0-9][0-9]",
                         "detach", "detach_")),
    ("views, allocation, scalars", ("view", "_unsafe_view", "reshape", "as_strided", "as_strided_", "t", "transpose",
                                    "permute", "expand", "expand_as", "slice", "select", "squeeze", "unsqueeze",
                                    "flatten", "unflatten", "split", "chunk", "narrow", "alias", "view_as",
                                    "lift_fresh",
                                    "resolve_conj", "resolve_neg", "empty", "empty_like", "empty_strided", "zeros",
                                    "zeros_like", "ones", "ones_like", "full", "full_like", "scalar_tensor",
                                    "resize_", "set_", "item", "_local_scalar_dense", "is_nonzero", "numpy_T")),
)
OTHER = "other"
# Ranges that name an operator's purpose whatever its name (the nearest enclosing one wins): the
# optimizer's own record_function ranges, aten::to (a dtype cast's copy_ is a cast), and those this
# script opens around modules (RANGED_MODULES).
RANGES: tuple[tuple[str, str], ...] = (
    ("Optimizer.step#*", "optimizer, EMA"),
    ("Optimizer.zero_grad#*", "optimizer, EMA"),
    ("aten::to", "dtype casts"),
    ("aten::_to_copy", "dtype casts"),
    ("ganforge::spectral_norm", "spectral norm (power iteration, W/sigma)"),
    ("ganforge::dropout", "dropout"),
    ("ganforge::log_stats", "logging, NaN checks"),
)
RANGED_MODULES: tuple[tuple[Callable[[nn.Module], bool], str], ...] = (
    (lambda m: type(m).__name__ == "_SpectralNorm", "ganforge::spectral_norm"),  # torch's parametrization
    (lambda m: "Dropout" in type(m).__name__, "ganforge::dropout"),
)
# Trainer methods run inside a range: averaging the logged statistics and checking the weights for
# NaN/inf, at log steps and at the end of every Trainer.run (so once per timed run here).
RANGED_METHODS: tuple[tuple[str, str], ...] = (("flush_stats", "ganforge::log_stats"),
                                               ("check_finite", "ganforge::log_stats"))
CATEGORY_ORDER = [MATMUL] + [c for c, _ in CATEGORIES[1:]] + [r for _, r in RANGES if r not in dict(CATEGORIES)]
CATEGORY_ORDER = list(dict.fromkeys(CATEGORY_ORDER + [OTHER, UNTRACKED]))
TOP = 15


def category_of(name: str) -> str:
    """An operator's category by its name alone (CATEGORIES)."""
    bare = name[len("aten::"):] if name.startswith("aten::") else name
    for category, patterns in CATEGORIES:
        if any(fnmatch.fnmatchcase(bare, p) or fnmatch.fnmatchcase(name, p) for p in patterns):
            return category
    return OTHER


def range_category(name: str) -> str | None:
    for pattern, category in RANGES:
        if fnmatch.fnmatchcase(name, pattern):
            return category
    return None


def event_category(event) -> str:
    """The category of a profiler event's self time: the nearest enclosing range (itself included)
    that names a purpose, else its name's."""
    e = event
    while e is not None:
        found = range_category(e.name)
        if found:
            return found
        e = e.cpu_parent
    return category_of(event.name)


# ------------------------------------------------------------------ presets and arguments
def _peak_levers():
    """benchmarks/peak_levers.py as a module (its PRESETS and parse_preset)."""
    if "peak_levers" not in sys.modules:
        spec = importlib.util.spec_from_file_location("peak_levers", Path(__file__).with_name("peak_levers.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["peak_levers"] = module
        spec.loader.exec_module(module)
    return sys.modules["peak_levers"]


def resolve_presets(texts: list[str] | None) -> list[tuple[str, str, list[str]]]:
    """(name, config path, overrides) for each preset: a name of peak_levers.PRESETS or NAME=CONFIG [OVERRIDES]."""
    levers = _peak_levers()
    known = {text.partition("=")[0]: text for text in levers.PRESETS}
    out = []
    for text in texts or levers.PRESETS:
        if "=" not in text.split(" ", 1)[0]:
            if text not in known:
                raise GanforgeError(f"unknown preset {text!r}; choose from {', '.join(known)} "
                                    "or give NAME=CONFIG [OVERRIDE ...]")
            text = known[text]
        try:
            name, path, overrides = levers.parse_preset(text)
        except SystemExit as exc:  # peak_levers' own message
            raise GanforgeError(str(exc)) from None
        full = path if Path(path).is_absolute() or not (ROOT / path).is_file() else str(ROOT / path)
        out.append((name, full, overrides))
    return out


def parse_precisions(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in PRECISIONS]
    if bad or not names:
        raise GanforgeError(f"unknown precision {', '.join(bad) or repr(text)}; choose from {','.join(PRECISIONS)} "
                            "(the CPU's; fp16 is a CUDA precision)")
    return names


# ------------------------------------------------------------------ one preset x precision
def _open_ranges(models: list[nn.Module]) -> list:
    """Forward hooks that open a named profiler range around each RANGED_MODULES module; their handles."""
    handles = []
    for model in models:
        for m in model.modules():
            for wanted, label in RANGED_MODULES:
                if wanted(m):
                    ranges: list = []

                    def enter(mod, args, label=label, ranges=ranges):
                        ranges.append(record_function(label).__enter__())

                    def leave(mod, args, out, ranges=ranges):
                        ranges.pop().__exit__(None, None, None)

                    handles += [m.register_forward_pre_hook(enter), m.register_forward_hook(leave)]
                    break
    return handles


def _ranged(method: Callable, label: str) -> Callable:
    def wrapper(*args, **kwargs):
        with record_function(label):
            return method(*args, **kwargs)
    return wrapper


def profile_run(name: str, config: str, overrides: list[str], precision: str, steps: int, warmup: int,
                threads: int = 0) -> dict:
    """Time ``steps`` steps of the bench trainer without the profiler, then profile as many; the self
    CPU time per category and per operator (no peak yet: see :func:`with_peak`)."""
    from ganforge.bench import _trainer_loop, bench_trainer
    from ganforge.build import build_experiment
    from ganforge.choices import load_config
    from ganforge.flops import step_flops

    extra = [f"train.threads={threads}"] if threads else []
    cfg = load_config(config, [*overrides, *extra, "train.device=cpu"])
    cfg.log.progress = False  # as ganforge bench
    cfg.train.precision = precision
    with tempfile.TemporaryDirectory() as tmp:
        exp = build_experiment(cfg)
        trainer = bench_trainer(exp, tmp)
        flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
        handles = _open_ranges([exp.G, exp.D])
        for method, label in RANGED_METHODS:  # on this trainer only
            setattr(trainer, method, _ranged(getattr(trainer, method), label))
        try:
            _trainer_loop(trainer, warmup)
            wall = _trainer_loop(trainer, steps)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                start = time.perf_counter()
                _trainer_loop(trainer, steps)
                profiled = time.perf_counter() - start
        finally:
            for h in handles:
                h.remove()
    by_cat: dict[str, float] = {}
    cat_ops: dict[str, dict[str, float]] = {}  # category -> {name: self us}
    ops: dict[str, list] = {}  # name -> [self us, calls, {category: self us}]
    for e in prof.events():
        us = float(e.self_cpu_time_total)
        cat = event_category(e)
        by_cat[cat] = by_cat.get(cat, 0.0) + us
        in_cat = cat_ops.setdefault(cat, {})
        in_cat[e.name] = in_cat.get(e.name, 0.0) + us
        op = ops.setdefault(e.name, [0.0, 0, {}])
        op[0] += us
        op[1] += 1
        op[2][cat] = op[2].get(cat, 0.0) + us
    tracked = sum(by_cat.values())
    total_us = max(profiled * 1e6, tracked)
    by_cat[UNTRACKED] = total_us - tracked
    images_per_step = cfg.data.batch_size * cfg.train.d_steps
    ms = lambda us: us / 1e3 / steps  # noqa: E731  per step
    categories = {c: {"ms_per_step": round(ms(by_cat.get(c, 0.0)), 4), "share": by_cat.get(c, 0.0) / total_us,
                      "ops": [n for n, _ in sorted(cat_ops.get(c, {}).items(), key=lambda kv: -kv[1])[:5]]}
                  for c in CATEGORY_ORDER if by_cat.get(c, 0.0) > 0 or c == MATMUL}
    top = sorted(ops.items(), key=lambda kv: -kv[1][0])[:TOP]
    matmul_s = by_cat.get(MATMUL, 0.0) / 1e6
    return {
        "preset": name, "config": config, "overrides": overrides, "precision": precision, "device": "cpu",
        "threads": torch.get_num_threads(), "batch_size": cfg.data.batch_size, "channels_last": cfg.model.channels_last,
        "steps": steps, "warmup": warmup, "flops_per_step": flops.total,
        "img_per_s": round(steps * images_per_step / wall, 2),
        "step_ms": round(wall / steps * 1e3, 4), "profiled_step_ms": round(profiled / steps * 1e3, 4),
        "profiler_overhead": round(profiled / wall, 4),
        "gflop_per_s": flops.total * steps / wall / 1e9,
        "categories": categories,
        "matmul": {"self_ms_per_step": round(matmul_s * 1e3 / steps, 4), "share": categories[MATMUL]["share"],
                   "gflop_per_s_inside": flops.total * steps / matmul_s / 1e9 if matmul_s > 0 else float("nan")},
        "top_ops": [{"name": n, "category": max(v[2], key=v[2].get), "self_ms_per_step": round(ms(v[0]), 4),
                     "share": v[0] / total_us, "calls_per_step": v[1] / steps} for n, v in top],
    }


def with_peak(r: dict, peak_gflop_per_s: float, peak_size: int) -> dict:
    """The run's fractions of its precision's matmul peak and its summary line."""
    r["peak_gflop_per_s"] = peak_gflop_per_s
    r["peak_size"] = peak_size
    r["fraction_of_peak"] = r["gflop_per_s"] / peak_gflop_per_s
    r["matmul"]["fraction_of_peak_inside"] = r["matmul"]["gflop_per_s_inside"] / peak_gflop_per_s
    r["summary"] = summary(r)
    return r


def pct(x: float) -> str:
    """A fraction as a percentage with at least two significant digits below 10%."""
    v = 100 * x
    return f"{v:.0f}%" if v >= 10 else f"{v:.1f}%" if v >= 1 else f"{v:.2g}%"


def summary(r: dict) -> str:
    """One line, from the numbers: the step's fraction of the peak, the two factors (the matmul/conv
    kernels' inside fraction and the share of the step they take), the bigger limit, and the largest
    shares outside the kernels."""
    inside, share = r["matmul"]["fraction_of_peak_inside"], r["matmul"]["share"]
    p = r["precision"]
    rest = sorted(((c, v["share"]) for c, v in r["categories"].items() if c != MATMUL), key=lambda cv: -cv[1])
    outside = "; ".join(f"{c} {pct(s)}" for c, s in rest[:3] if s >= 0.005) or "nothing else"
    if inside < share:
        limit = f"the kernels' own speed ({pct(inside)} of the {p} peak)"
    else:
        most = f", most in {rest[0][0]}" if rest else ""
        limit = f"time outside the kernels ({pct(1 - share)} of the step{most})"
    return (f"{r['preset']} {p}: step at {pct(r['fraction_of_peak'])} of the {p} peak; conv/matmul kernels run at "
            f"{pct(inside)} of the {p} peak and take {pct(share)} of the step; outside them: {outside}. "
            f"Bigger limit: {limit}")


# ------------------------------------------------------------------ output
def table(r: dict) -> str:
    lines = [f"{r['preset']} {r['precision']}: batch {r['batch_size']}, {r['steps']} steps after {r['warmup']}, "
             f"{r['threads']} threads, channels_last={str(r['channels_last']).lower()}; "
             f"{r['flops_per_step'] / 1e9:.4g} GFLOP/step",
             f"  unprofiled: {r['img_per_s']:,.1f} img/s, {r['step_ms']:.2f} ms/step, {r['gflop_per_s']:.4g} GFLOP/s = "
             f"{100 * r['fraction_of_peak']:.1f}% of the {r['precision']} peak ({r['peak_gflop_per_s']:.4g} GFLOP/s, "
             f"{r['peak_size']}^2 matmuls)",
             f"  profiled: {r['profiled_step_ms']:.2f} ms/step ({r['profiler_overhead']:.2f}x); inside the matmul/conv "
             f"ops {r['matmul']['gflop_per_s_inside']:.4g} GFLOP/s = "
             f"{100 * r['matmul']['fraction_of_peak_inside']:.1f}% of the peak",
             f"  {'category':<34}{'ms/step':>10}{'share':>9}"]
    cats = sorted(r["categories"].items(), key=lambda cv: (cv[0] != MATMUL, -cv[1]["share"]))
    for c, v in cats:
        lines.append(f"  {c:<34}{v['ms_per_step']:10.2f}{100 * v['share']:8.1f}%  {', '.join(v['ops'][:3])}")
    head = f"top {TOP} ops by self time"
    lines.append(f"  {head:<52}{'ms/step':>10}{'share':>9}{'calls/step':>12}  category")
    for op in r["top_ops"]:
        lines.append(f"  {op['name'][:52]:<52}{op['self_ms_per_step']:10.2f}{100 * op['share']:8.1f}%"
                     f"{op['calls_per_step']:12.1f}  {op['category']}")
    lines.append(f"  => {r['summary']}")
    return "\n".join(lines)


def run(presets: list[str] | None = None, precisions: list[str] | None = None, steps: int = 20, warmup: int = 5,
        peak_size: int = 0, threads: int = 0, json_out: str | None = None) -> dict:
    """Profile each preset x precision; print a table each and the summary lines; return (and write
    to ``json_out``) all the numbers."""
    from ganforge.flops import peaks

    if steps < 1 or warmup < 0 or peak_size < 0 or threads < 0:
        raise GanforgeError("--steps must be >= 1 and --warmup, --peak-size, --threads >= 0")
    chosen = resolve_presets(presets)
    precisions = precisions or list(PRECISIONS)
    if threads:
        torch.set_num_threads(threads)
    peak_cache: dict[tuple[str, int], float] = {}
    runs = []
    for name, config, overrides in chosen:
        for p in precisions:
            r = profile_run(name, config, overrides, p, steps, warmup, threads)
            key = (p, r["threads"])  # measured at the thread count the run used
            if key not in peak_cache:
                peak_cache[key] = peaks([p], "cpu", peak_size)[p] / 1e9
            runs.append(with_peak(r, peak_cache[key], peak_size or 2048))
            print(table(runs[-1]) + "\n", flush=True)
    result = {"torch": torch.__version__, "device": "cpu", "steps": steps, "warmup": warmup,
              "peak_size": peak_size or 2048,
              "peak_gflop_per_s": {f"{p}@{t}": v for (p, t), v in peak_cache.items()},
              "categories": CATEGORY_ORDER, "runs": runs}
    print("what limits each step:")
    for r in runs:
        print("  " + r["summary"])
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=None, metavar="PRESET",
                    help="names of benchmarks/peak_levers.py's presets or 'NAME=CONFIG [OVERRIDE ...]' "
                         "(default: its three)")
    ap.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated, of fp32,bf16")
    ap.add_argument("--steps", type=int, default=20, help="steps timed, and as many profiled (default 20)")
    ap.add_argument("--warmup", type=int, default=5, help="steps before them (default 5)")
    ap.add_argument("--peak-size", type=int, default=0,
                    help="matmul side for the peak (default 0: 2048, as ganforge bench)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default 0: the preset's or PyTorch's)")
    ap.add_argument("--json", default=None, metavar="FILE", help="write all the numbers here")
    args = ap.parse_args(argv)
    try:
        run(args.presets, parse_precisions(args.precisions), args.steps, args.warmup, args.peak_size, args.threads,
            args.json)
    except GanforgeError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
