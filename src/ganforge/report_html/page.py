"""The HTML report's pages: the single-run page, the comparison of several runs, their tables and styles."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from datetime import datetime
from pathlib import Path

from .figures import _file_uri, _frames, _step_of, class_grid, eval_curves, training_curves, training_gif_uri
from .runinfo import (EVAL_SKIP, RunInfo, _cfg, _duration, _eval_records, _fmt, _num, _unique_labels,
                      evaluated_once, how_to_evaluate, real_baseline_for, train_summary)

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
        commit = info.get("ganforge_commit")
        rows.append(("ganforge", info.get("ganforge_version") + (f" (commit {commit})" if commit else "")))
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _metrics_over_training(infos: list[RunInfo], uri: str | None, alt: str, note: str) -> str:
    """The curves (metrics evaluated twice or more), a table of the metrics evaluated once, or, for
    runs with no evaluation, how to add one."""
    parts = [_img(uri, alt)] if uri else []
    once = evaluated_once(infos)
    if once:
        many = len(infos) > 1
        head = ("<th>run</th>" if many else "") + "<th>metric</th><th>step</th><th>value</th>"
        rows = "".join(("<tr>" + (f"<td>{_e(i.label)}</td>" if many else "") + f"<th>{_e(k)}</th>"
                        f'<td class="num">{_e(step)}</td><td class="num">{_e(_fmt(v))}</td></tr>')
                       for i, k, step, v in once)
        parts.append(f'<p class="meta">evaluated once (a single evaluation in metrics.jsonl)</p><table class="once"><tr>{head}</tr>{rows}</table>')
    if note:
        parts.append(_note(note))
    elif not parts:
        parts.append(_note(how_to_evaluate([i.run.path for i in infos])))
    return "".join(parts)


def _page(title: str, body: list[str], script: str = "") -> str:
    now = datetime.now().strftime("%Y-%m-%d %H:%M")
    from ..version import __version__

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
    body.append(_metrics_over_training([info], uri, f"{', '.join(keys)} over training", note))

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
        rows.append(f'<tr><td colspan="{len(infos) + 1}" class="note">no eval.json in any run '
                    f'(`ganforge eval RUN` writes one)</td></tr>')

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
    body.append(_metrics_over_training(infos, uri, "periodic metrics, one colour per run", note))
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


