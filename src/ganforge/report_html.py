"""``ganforge report --html``: one self-contained HTML page of a run, or a comparison of several.

The page is one file that works offline: every picture is inlined as a ``data:`` URI (PNG plots
from matplotlib, the sample grids, the training GIF), the styles are inline and the only script
is a few lines switching the sample-grid slider's ``<img>``. What a run lacks (no grids, no
``eval.json``, no metrics yet) is skipped with a short note.

One run: its resolved config, the loss and D(x)/D(G(z)) curves, periodic metrics over training,
a slider over the fixed-noise grids, the last grid, a per-class grid (conditional image runs),
the ``eval.json`` table beside the real-data baseline, and the training GIF.

Several runs: one comparison table (config keys that differ highlighted, final metrics, training
time and img/s) and the curves overlaid, one colour per run.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import statistics
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import GanforgeError
from .runs import RunDir, resolve

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
    from .config import tomllib

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


# ---------------------------------------------------------------------------- pictures
def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _file_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    return _uri(path.read_bytes(), mime.get(path.suffix.lower(), "application/octet-stream"))


def _pil_uri(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return _uri(buf.getvalue(), "image/png")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fig_uri(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return _uri(buf.getvalue(), "image/png")


def _panels(n: int, width: float = 5.0, height: float = 3.3):
    plt = _plt()
    cols = min(n, 2) if n <= 4 else 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), dpi=100, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _series(records: list[dict], key: str, value=lambda r, k: r.get(k)) -> tuple[list, list]:
    pts = [(r["step"], value(r, key)) for r in records if isinstance(r.get("step"), int) and _num(value(r, key))]
    return [s for s, _ in pts], [v for _, v in pts]


def _train_keys(infos: list[RunInfo]) -> list[str]:
    keys: list[str] = []
    for info in infos:
        for rec in info.train:
            for k, v in rec.items():
                if k not in TRAIN_SKIP and k not in keys and _num(v):
                    keys.append(k)
    order = ["d_loss", "g_loss", "d_real", "d_fake"]
    return [k for k in order if k in keys] + [k for k in keys if k not in order]


def training_curves(infos: list[RunInfo]) -> str | None:
    """PNG data URI of the metrics.jsonl curves: one run -> losses in one panel, D(x)/D(G(z)) in
    another, each other statistic in its own; several runs -> one panel per key, one colour per run."""
    keys = _train_keys(infos)
    if not keys:
        return None
    if len(infos) == 1:
        groups = [[k for k in ("d_loss", "g_loss") if k in keys], [k for k in ("d_real", "d_fake") if k in keys]]
        groups = [g for g in groups if g] + [[k] for k in keys if k not in ("d_loss", "g_loss", "d_real", "d_fake")]
    else:
        groups = [[k] for k in keys]
    fig, axes = _panels(len(groups))
    for ax, group in zip(axes, groups):
        for info in infos:
            for k in group:
                steps, values = _series(info.train, k)
                if not steps:
                    continue
                if len(infos) == 1:
                    ax.plot(steps, values, label=PANEL_TITLES.get(k, k))
                else:
                    ax.plot(steps, values, color=info.colour, label=info.label)
        title = " / ".join(PANEL_TITLES.get(k, k) for k in group)
        ax.set_title(title if len(infos) > 1 or len(group) == 1 else "")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and (len(infos) == 1 or ax is axes[0]):
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _fig_uri(fig)


def _eval_records(info: RunInfo) -> list[dict]:
    """The run's evaluations during training: those with the most common sample count (a later
    ``ganforge eval`` with another ``--n`` would make a jump that is not learning)."""
    recs = [r for r in info.evals if isinstance(r.get("step"), int)]
    ns = [r["eval"].get("n") for r in recs]
    if not ns:
        return []
    common = max(set(ns), key=ns.count)
    return [r for r in recs if r["eval"].get("n") == common]


def eval_curves(infos: list[RunInfo]) -> tuple[str | None, list[str]]:
    """(PNG data URI, keys plotted) of the periodic metrics over training; a key needs two
    evaluations of one run at least."""
    series = {i.label: _eval_records(i) for i in infos}
    keys: list[str] = []
    for info in infos:
        recs = series[info.label]
        for rec in recs:
            for k, v in rec["eval"].items():
                if k in EVAL_SKIP or k in keys or not _num(v):
                    continue
                if len(_series(recs, k, lambda r, kk: r["eval"].get(kk))[0]) >= 2:
                    keys.append(k)
    if not keys:
        return None, []
    fig, axes = _panels(len(keys))
    for ax, k in zip(axes, keys):
        lows, highs = [], []
        for info in infos:
            steps, values = _series(series[info.label], k, lambda r, kk: r["eval"].get(kk))
            if not steps:
                continue
            lows.append(min(values))
            highs.append(max(values))
            ax.plot(steps, values, marker="o", ms=3, color=info.colour if len(infos) > 1 else None,
                    label=info.label if len(infos) > 1 else k)
        if k in ("fid", "kid_mean") and lows and min(lows) > 0 and max(highs) / min(lows) > 10:
            ax.set_yscale("log")
        ax.set_title(k.upper() if k == "fid" else k)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(infos) > 1 and ax is axes[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _fig_uri(fig), keys


def _frames(run: RunDir) -> list[Path]:
    frames = run.sample_grids()
    if len(frames) > MAX_FRAMES:
        idx = sorted({round(i * (len(frames) - 1) / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)})
        frames = [frames[i] for i in idx]
    return frames


def _step_of(path: Path) -> str:
    digits = path.stem.removeprefix("step_")
    return str(int(digits)) if digits.isdigit() else path.stem


def class_grid(info: RunInfo, per_class: int = 8) -> tuple[str | None, str]:
    """(PNG data URI, caption) of a conditional image run's generator: row c holds class c."""
    if not info.config or info.get("model.conditioning", "none") == "none":
        return None, ""
    import torch

    from .data import data_info
    from .sampling import generate, load_generator, num_classes
    from .viz import make_grid, to_uint8

    G, cfg = load_generator(info.run)
    classes = num_classes(cfg)
    if not classes or data_info(cfg.data).kind != "image":
        return None, ""
    labels = torch.arange(classes).repeat_interleave(per_class)
    x = generate(G, cfg, len(labels), seed=0, labels=labels)
    grid = make_grid(to_uint8(x).numpy(), nrow=per_class, scale=2)
    return _pil_uri(grid), f"row c: class c (0..{classes - 1}), {per_class} samples each, seed 0"


def training_gif_uri(run: RunDir) -> str | None:
    from .report import training_gif

    if not run.sample_grids():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return _file_uri(training_gif(run, Path(tmp) / "training.gif"))


# ---------------------------------------------------------------------------- real-data baseline
def _results_json() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "results.json"


def _baseline_cache(info: RunInfo, n) -> Path:
    from .evaluation import cache_dir

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
        from .evaluation.run import run_eval

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


# ---------------------------------------------------------------------------- HTML
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#222;background:#fff;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
.meta{color:#666;font-size:.9em}.note{color:#777;font-style:italic;font-size:.92em}
table{border-collapse:collapse;font-size:.88em;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.section th{background:#e8eef6}tr.diff td,tr.diff th{background:#fff3b0}tr.diff th{font-weight:bold}
img{max-width:100%}img.grid{image-rendering:pixelated;border:1px solid #ccc}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.slider{display:flex;align-items:center;gap:12px;margin:8px 0}.slider input{flex:1;max-width:520px}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:.85em}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}figure{margin:0}figcaption{font-size:.85em;color:#555}
"""

SLIDER_JS = """
(function(){var frames=JSON.parse(document.getElementById('frames').textContent);
var s=document.getElementById('slider'),img=document.getElementById('frame'),lab=document.getElementById('frame-step');
function show(){var f=frames[+s.value];img.src=f.src;
lab.textContent='step '+f.step+' ('+(+s.value+1)+'/'+frames.length+')';}
s.addEventListener('input',show);show();})();
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _img(uri: str, alt: str, cls: str = "", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} src="{uri}" alt="{_e(alt)}"{extra}>'


def _grid_width(source) -> str:
    """A ``width`` attribute that shows a small sample grid at a whole multiple of its size (360 px
    wide or more, 640 px high at most; pixels kept sharp by CSS), or "" to show it as it is."""
    from PIL import Image

    try:
        with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as im:
            w, h = im.size
    except OSError:
        return ""
    k = min(4, math.ceil(360 / w), max(1, 640 // h)) if 0 < w < 300 else 1  # tall grids stay as they are
    return f' width="{w * k}"' if k > 1 else ""


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _config_table(info: RunInfo) -> str:
    if info.config is None:
        body = _note("no config.toml" if not info.config_text else "config.toml could not be parsed; as written:")
        return body + (f"<pre>{_e(info.config_text)}</pre>" if info.config_text else "")
    rows: list[str] = []

    def walk(d: dict, section: str) -> None:
        plain = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if plain:
            if section:
                rows.append(f'<tr class="section"><th colspan="2">[{_e(section)}]</th></tr>')
            rows.extend(f"<tr><td>{_e(k)}</td><td>{_e(_cfg(v))}</td></tr>" for k, v in plain.items())
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{section}.{k}" if section else k)

    walk(info.config, "")
    return (f'<table class="config"><tr><th>key</th><th>value</th></tr>{"".join(rows)}</table>'
            f"<details><summary>config.toml as written</summary><pre>{_e(info.config_text)}</pre></details>")


def _eval_table(info: RunInfo, baseline: dict | None, baseline_note: str) -> str:
    ev = info.eval_json
    if not ev:
        return _note(f"no eval.json; `ganforge eval {info.run.path}` writes one")
    parts = [f"source {ev['source']}" if "source" in ev else "", f"step {ev['step']}" if "step" in ev else "",
             f"n = {_fmt(ev['n'])}" if "n" in ev else "", f"{_fmt(ev['seconds'])} s" if "seconds" in ev else ""]
    head = _e(" · ".join(p for p in parts if p))
    rows = []
    for k, v in ev.items():
        if k in ("source", "step", "n", "seconds", "data"):
            continue
        b = baseline.get(k) if baseline else None
        cls = ' class="num"' if _num(v) else ""
        rows.append(f"<tr><th>{_e(k)}</th><td{cls}>{_e(_fmt(v))}</td>"
                    f"<td{cls}>{_e(_fmt(b)) if b is not None else '&mdash;'}</td></tr>")
    return (f'<p class="meta">{head}</p><table class="eval"><tr><th>metric</th><th>this run</th>'
            f"<th>real data</th></tr>{''.join(rows)}</table>" + _note(f"real data: {baseline_note}"))


def _summary_table(info: RunInfo) -> str:
    s = train_summary(info)
    rows = [("data", info.get("data.name", "?")), ("steps", s.get("steps", "?"))]
    if "d_loss" in s:
        rows.append(("last D / G loss", f"{_fmt(s['d_loss'])} / {_fmt(s.get('g_loss', float('nan')))}"))
    if "img_per_s" in s:
        rows.append(("img/s (median)", f"{s['img_per_s']:.0f}"))
    if "train_seconds" in s:
        rows.append(("time in training steps (from img/s)", _duration(s["train_seconds"])))
    if info.get("ganforge_version"):
        rows.append(("ganforge", info.get("ganforge_version")))
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _page(title: str, body: list[str], script: str = "") -> str:
    now = datetime.now().strftime("%Y-%m-%d %H:%M")
    from .version import __version__

    js = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class=\"meta\">ganforge {_e(__version__)} report, {now}</p>"
            + "\n".join(body) + f"{js}</body></html>\n")


def _safe(what: str, fn, *args):
    """(result, note): an optional part of the page that failed becomes a note, not a traceback."""
    try:
        return fn(*args), ""
    except Exception as exc:  # noqa: BLE001: an optional part of the page never ends the report
        return None, f"{what} skipped: {' '.join(str(exc).split())[:200]}"


def single_run_html(info: RunInfo, baseline: bool = False) -> str:
    body: list[str] = [f'<p class="meta">run directory: {_e(info.run.path.resolve())}</p>']
    body += [_note(n) for n in info.notes]
    body.append("<h2>Summary</h2>" + _summary_table(info))

    body.append("<h2>Training curves</h2>")
    uri, note = _safe("the training curves", training_curves, [info])
    body.append(_img(uri, "loss and D(x)/D(G(z)) curves") if uri else
                _note(note or "no training records in metrics.jsonl"))

    (res, note) = _safe("the metric curves", eval_curves, [info])
    uri, keys = res if res else (None, [])
    body.append("<h2>Metrics over training</h2>")
    body.append(_img(uri, f"{', '.join(keys)} over training") if uri else
                _note(note or "no periodic evaluation in metrics.jsonl (eval.every = 0, or fewer than two)"))

    body.append("<h2>Fixed-noise samples over training</h2>")
    frames = _frames(info.run)
    script = ""
    if frames:
        data = [{"step": _step_of(f), "src": _file_uri(f)} for f in frames]
        last = data[-1]
        body.append(
            f'<div class="slider"><input type="range" id="slider" min="0" max="{len(data) - 1}" '
            f'value="{len(data) - 1}" step="1" aria-label="training step"><span id="frame-step">step {last["step"]}'
            f"</span></div>" + _img(last["src"], "fixed-noise samples", "grid", ' id="frame"' + _grid_width(frames[-1]))
            + f'<script type="application/json" id="frames">{json.dumps(data)}</script>')
        script = SLIDER_JS
        if len(run_grids := info.run.sample_grids()) > len(frames):
            body.append(_note(f"{len(frames)} of the {len(run_grids)} grids shown"))
        body.append("<h2>Last samples</h2><figure>"
                    + _img(last["src"], "last sample grid", "grid", _grid_width(frames[-1]))
                    + f"<figcaption>step {last['step']}</figcaption></figure>")
    else:
        body.append(_note(f"no sample grids in {info.run.samples}"))

    res, note = _safe("the per-class grid", class_grid, info)
    if res and res[0]:
        png = base64.b64decode(res[0].split(",", 1)[1])
        body.append("<h2>Samples per class</h2><figure>" + _img(res[0], "samples per class", "grid", _grid_width(png))
                    + f"<figcaption>{_e(res[1])}</figcaption></figure>")
    elif note:
        body.append("<h2>Samples per class</h2>" + _note(note))

    body.append("<h2>Evaluation</h2>")
    if info.eval_json:
        res, note = _safe("the real-data baseline", real_baseline_for, info, baseline)
        base, base_note = res if res else (None, note)
        body.append(_eval_table(info, base, base_note))
    else:
        body.append(_eval_table(info, None, ""))

    body.append("<h2>Training GIF</h2>")
    uri, note = _safe("the training GIF", training_gif_uri, info.run)
    body.append(_img(uri, "training GIF", "grid", _grid_width(base64.b64decode(uri.split(",", 1)[1])))
                if uri else _note(note or "no sample grids to animate"))

    body.append("<h2>Config</h2>" + _config_table(info))
    return _page(f"ganforge run {info.label}", body, script)


def comparison_html(infos: list[RunInfo]) -> str:
    _unique_labels(infos)
    heads = "".join(f'<th><span class="swatch" style="background:{i.colour}"></span>{_e(i.label)}</th>' for i in infos)
    rows: list[str] = []

    def row(name: str, values: list, cls: str = "") -> None:
        c = f' class="{cls}"' if cls else ""
        cells = "".join(f'<td class="num">{_e(v)}</td>' if v not in ("", "&mdash;") else "<td>&mdash;</td>"
                        for v in values)
        rows.append(f"<tr{c}><th>{_e(name)}</th>{cells}</tr>")

    def section(name: str) -> None:
        rows.append(f'<tr class="section"><th colspan="{len(infos) + 1}">{_e(name)}</th></tr>')

    summaries = [train_summary(i) for i in infos]
    section("training")
    row("run directory", [str(i.run.path) for i in infos])
    row("steps", [s.get("steps", "") for s in summaries])
    row("img/s (median)", [f"{s['img_per_s']:.0f}" if "img_per_s" in s else "" for s in summaries])
    row("time in training steps (from img/s)",
        [_duration(s["train_seconds"]) if "train_seconds" in s else "" for s in summaries])
    row("last D loss", [_fmt(s["d_loss"]) if "d_loss" in s else "" for s in summaries])
    row("last G loss", [_fmt(s["g_loss"]) if "g_loss" in s else "" for s in summaries])

    section("evaluation (eval.json)")
    ev_keys: list[str] = []
    for i in infos:
        for k, v in (i.eval_json or {}).items():
            if k not in ("source", "data", "seconds") and k not in ev_keys and (_num(v) or k == "step"):
                ev_keys.append(k)
    if ev_keys:
        for k in ev_keys:
            row(k, [_fmt((i.eval_json or {}).get(k)) if (i.eval_json or {}).get(k) is not None else ""
                    for i in infos])
    else:
        rows.append(f'<tr><td colspan="{len(infos) + 1}" class="note">no eval.json in any run</td></tr>')

    last_evals = [_eval_records(i)[-1:] for i in infos]
    periodic: list[str] = []
    for recs in last_evals:
        for k, v in (recs[0]["eval"].items() if recs else ()):
            if k not in EVAL_SKIP and k not in periodic and _num(v):
                periodic.append(k)
    if periodic:
        section("last evaluation during training (metrics.jsonl)")
        row("step", [recs[0]["step"] if recs else "" for recs in last_evals])
        row("n", [recs[0]["eval"].get("n", "") if recs else "" for recs in last_evals])
        for k in periodic:
            row(k, [_fmt(recs[0]["eval"][k]) if recs and _num(recs[0]["eval"].get(k)) else "" for recs in last_evals])

    flat = [_flatten(i.config) if i.config else {} for i in infos]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    differ = [k for k in keys if len({json.dumps(f.get(k, missing), default=str) for f in flat}) > 1]
    same = [k for k in keys if k not in differ]
    section(f"config: {len(differ)} key(s) differ")
    for k in differ:
        row(k, [_cfg(f[k]) if k in f else "" for f in flat], "diff")
    table = f'<table class="compare"><tr><th></th>{heads}</tr>{"".join(rows)}</table>'
    same_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_cfg(flat[0][k]))}</td></tr>" for k in same if k in flat[0])
    shared = (f"<details><summary>{len(same)} config keys the runs share</summary>"
              f"<table>{same_rows}</table></details>") if same else ""

    body = ['<p class="meta">' + ", ".join(_e(i.run.path.resolve()) for i in infos) + "</p>"]
    body += [_note(f"{i.label}: {n}") for i in infos for n in i.notes]
    body.append("<h2>Comparison</h2>" + table + shared)
    body.append("<h2>Training curves</h2>")
    uri, note = _safe("the training curves", training_curves, infos)
    body.append(_img(uri, "training curves, one colour per run") if uri else _note(note or "no training records"))
    body.append("<h2>Metrics over training</h2>")
    res, note = _safe("the metric curves", eval_curves, infos)
    uri, keys = res if res else (None, [])
    body.append(_img(uri, "periodic metrics, one colour per run") if uri else
                _note(note or "no periodic evaluations in the runs' metrics.jsonl"))
    figs = []
    for i in infos:
        grids = i.run.sample_grids()
        if grids:
            picture = _img(_file_uri(grids[-1]), f"last samples of {i.label}", "grid", _grid_width(grids[-1]))
            figs.append(f"<figure>{picture}"
                        f'<figcaption><span class="swatch" style="background:{i.colour}"></span>{_e(i.label)}, '
                        f"step {_step_of(grids[-1])}</figcaption></figure>")
        else:
            figs.append(f"<figure>{_note(f'{i.label}: no sample grids')}</figure>")
    body.append('<h2>Last samples</h2><div class="row">' + "".join(figs) + "</div>")
    return _page(f"ganforge: {len(infos)} runs compared", body)


def html_report(runs: list[str | Path], out: str | Path | None = None, baseline: bool = False) -> Path:
    """Write the report of one run (default ``RUN/report.html``) or the comparison of several
    (default ``report.html`` here); returns the path written."""
    if not runs:
        raise GanforgeError("give at least one run directory")
    infos = [load_run(r) for r in runs]  # every path checked before any plot is made
    if len(infos) == 1:
        text = single_run_html(infos[0], baseline)
        out = Path(out) if out else infos[0].run.path / "report.html"
    else:
        text = comparison_html(infos)
        out = Path(out) if out else Path("report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
