"""Reading a run for the HTML report: config.toml, metrics.jsonl (a line cut short is skipped), eval.json,
the numbers' formatting, the training summary, and the real-data baseline beside eval.json."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GanforgeError
from ..runs import RunDir, resolve

MAX_FRAMES = 60  # sample grids in the slider (first and last kept, the middle thinned evenly)
TRAIN_SKIP = {"step", "epoch", "img_per_s"}  # metrics.jsonl keys that are not curves
EVAL_SKIP = {"step", "n", "seconds"}  # eval keys that are not metrics
PANEL_TITLES = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))"}
# eval.json keys -> the metric that computes them (to ask the real-data baseline for the same ones)
METRIC_OF_KEY = {"fid": "fid", "kid_mean": "kid", "kid_std": "kid", "precision": "prdc", "recall": "prdc",
                 "density": "prdc", "coverage": "prdc", "is_mean": "is", "is_std": "is", "modes": "modes",
                 "kl": "modes", "num_modes": "modes", "high_quality": "modes", "reverse_kl": "modes"}
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


# ---------------------------------------------------------------------------- reading a run
@dataclass
class RunInfo:
    run: RunDir
    label: str = ""
    config: dict | None = None  # config.toml parsed
    config_text: str = ""
    train: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    eval_json: dict | None = None
    notes: list[str] = field(default_factory=list)  # what could not be read
    colour: str = COLOURS[0]

    def get(self, dotted: str, default=None):
        node = self.config or {}
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def _read_jsonl(path: Path) -> tuple[list[dict], list[dict], int]:
    """(training records, evaluation records, unreadable lines): a line cut short by a run
    still being written is skipped, not fatal."""
    train, evals, bad = [], [], 0
    if not path.is_file():
        return train, evals, 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(rec, dict):
            bad += 1
        elif "eval" in rec:
            if isinstance(rec["eval"], dict):
                evals.append(rec)
        else:
            train.append(rec)
    return train, evals, bad


def load_run(source: str | Path) -> RunInfo:
    """A run directory (or a checkpoint file inside one) read for the report; one-line
    :class:`GanforgeError` for a path that is not a run."""
    from ..config import tomllib

    run, _ = resolve(source)
    if not run.path.is_dir():
        raise GanforgeError(f"run '{source}' not found; give a run directory (runs/<name>)")
    if not (run.config.is_file() or run.metrics.is_file() or run.samples.is_dir()):
        raise GanforgeError(f"'{source}' is not a ganforge run directory (no config.toml, metrics.jsonl "
                            "or samples/); give a run directory (runs/<name>)")
    info = RunInfo(run=run, label=run.path.resolve().name or str(run.path))
    if run.config.is_file():
        info.config_text = run.config.read_text(errors="replace")
        try:
            info.config = tomllib.loads(info.config_text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            info.notes.append(f"config.toml could not be parsed ({' '.join(str(exc).split())})")
    else:
        info.notes.append("no config.toml")
    info.train, info.evals, bad = _read_jsonl(run.metrics)
    if bad:
        info.notes.append(f"{bad} unreadable line(s) of metrics.jsonl skipped")
    if run.eval_json.is_file():
        try:
            data = json.loads(run.eval_json.read_text())
            info.eval_json = data if isinstance(data, dict) else None
        except ValueError:
            info.notes.append("eval.json could not be parsed")
    return info


def _unique_labels(infos: list[RunInfo]) -> None:
    names = [i.label for i in infos]
    for i in infos:
        if names.count(i.label) > 1:
            i.label = str(i.run.path)
    for k, i in enumerate(infos):
        i.colour = COLOURS[k % len(COLOURS)]


# ---------------------------------------------------------------------------- numbers
def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v == 0:
            return "0"
        return f"{v:.4g}" if abs(v) >= 1e-4 else f"{v:.3e}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _cfg(v) -> str:
    """A config value as TOML writes it (1.0 stays 1.0, 100000 stays 100000)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_cfg(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def train_summary(info: RunInfo) -> dict:
    """Steps, last losses, median img/s and the time spent in training steps (from img/s)."""
    out: dict = {}
    if info.train:
        last = info.train[-1]
        out["steps"] = last.get("step")
        for key in ("d_loss", "g_loss"):
            if _num(last.get(key)):
                out[key] = last[key]
        rates = [r["img_per_s"] for r in info.train if _num(r.get("img_per_s")) and r["img_per_s"] > 0]
        if rates:
            out["img_per_s"] = statistics.median(rates)
        per_step = (info.get("data.batch_size") or 0) * (info.get("train.d_steps") or 1)
        if per_step and rates:
            seconds, prev = 0.0, 0
            for r in info.train:
                step = r.get("step")
                if not isinstance(step, int):
                    continue
                if step > prev and _num(r.get("img_per_s")) and r["img_per_s"] > 0:
                    seconds += (step - prev) * per_step / r["img_per_s"]
                prev = step
            out["train_seconds"] = seconds
    elif info.eval_json and isinstance(info.eval_json.get("step"), int):
        out["steps"] = info.eval_json["step"]
    return out


def _eval_records(info: RunInfo) -> list[dict]:
    """The run's evaluations during training: those with the most common sample count (a later
    ``ganforge eval`` with another ``--n`` would make a jump that is not learning)."""
    recs = [r for r in info.evals if isinstance(r.get("step"), int)]
    ns = [r["eval"].get("n") for r in recs]
    if not ns:
        return []
    common = max(set(ns), key=ns.count)
    return [r for r in recs if r["eval"].get("n") == common]


# ---------------------------------------------------------------------------- real-data baseline
def _results_json() -> Path:
    return Path(__file__).resolve().parents[3] / "docs" / "results.json"


def _baseline_cache(info: RunInfo, n) -> Path:
    from ..evaluation import cache_dir

    data = info.get("data.name", "")
    key = data
    if data == "folder":
        import hashlib

        spec = f"{info.get('data.path')}|{info.get('data.size')}|{info.get('data.val_fraction')}"
        key = f"folder-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    return cache_dir() / f"report_baseline_{key}_n{n}.json"


def real_baseline_for(info: RunInfo, compute: bool = False) -> tuple[dict | None, str]:
    """(baseline numbers, where they come from) for the run's eval.json: a cached baseline of the
    same data set and sample count; else, with ``compute``, a new one (``run_eval`` on real
    training images, then cached); else the repository's docs/results.json."""
    ev = info.eval_json or {}
    data = ev.get("data") or info.get("data.name")
    n = ev.get("n")
    if not data:
        return None, "no real-data baseline: the data set is unknown"
    cache = _baseline_cache(info, n) if info.config else None
    if cache is not None and cache.is_file():
        try:
            return json.loads(cache.read_text()), f"real {data} training images, n = {n} (cached in {cache})"
        except ValueError:
            pass
    if compute:
        from ..evaluation.run import run_eval

        metrics = sorted({METRIC_OF_KEY[k] for k in ev if k in METRIC_OF_KEY}) or None
        base = run_eval(None, ",".join(metrics) if metrics else None, n=n if isinstance(n, int) else None,
                        baseline=str(info.run.path) if data == "folder" else data, progress=False)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(base, indent=2) + "\n")
        return base, f"real {data} training images, n = {base.get('n', n)} (computed now)"
    try:
        base = json.loads(_results_json().read_text())["baselines"][data]
        return base, (f"real {data} training images, n = {base.get('n', '?')} (docs/results.json; "
                      f"--baseline computes one at this run's n)")
    except (OSError, ValueError, KeyError, TypeError):
        return None, "no real-data baseline cached; --baseline computes one (same data set and n)"


SPACE_METRICS = {"fid", "kid", "prdc", "is"}  # metrics whose value depends on the feature space (eval --features)


def base_key(key: str) -> str:
    """The metric key of a series key: ``fid [folder_classifier]`` -> ``fid``."""
    return key.split(" [", 1)[0]


def eval_series(info: RunInfo) -> dict[str, tuple[list[int], list[float]]]:
    """Metric key -> (steps, values) of the run's evaluations during training (:func:`_eval_records`),
    by step. When the evaluations used more than one feature space (pixels, a folder classifier ...),
    each space's feature metrics are a series of their own, ``fid [SPACE]``: two spaces' FIDs are not
    one curve. Two evaluations of one series at the same step: the later one counts."""
    recs = _eval_records(info)
    spaces = {r["eval"].get("features") for r in recs}
    points: dict[str, dict[int, float]] = {}
    for rec in recs:
        space = rec["eval"].get("features")
        for k, v in rec["eval"].items():
            if k not in EVAL_SKIP and _num(v):
                key = f"{k} [{space}]" if len(spaces) > 1 and METRIC_OF_KEY.get(k) in SPACE_METRICS else k
                points.setdefault(key, {})[rec["step"]] = v
    return {k: (sorted(p), [p[s] for s in sorted(p)]) for k, p in points.items()}


def evaluated_once(infos: list[RunInfo]) -> list[tuple[RunInfo, str, int, float]]:
    """(run, key, step, value) of each metric a run evaluated once during training: a table row in the
    report, not a plot of one dot."""
    return [(info, k, steps[0], values[0]) for info in infos
            for k, (steps, values) in eval_series(info).items() if len(steps) == 1]


def how_to_evaluate(paths: list) -> str:
    """What to do when runs have no evaluation at all."""
    where = " ".join(str(p) for p in paths)
    return (f"no evaluation during training: add eval.every=N to the ganforge train line (FID and the data set's "
            f"other metrics every N steps), or evaluate the trained run now with `ganforge eval {where}`")
