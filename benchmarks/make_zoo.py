"""Turn a trained run into a zoo entry: `python benchmarks/make_zoo.py RUN NAME`.

Writes NAME.pt (the generator the run samples from, EMA weights where kept, in fp16 or bf16) and
NAME.json (the card: preset, the commit that trained the run, images seen, dtype, sha256) into the zoo folder (default the
package's src/ganforge/zoo/), then runs `ganforge eval zoo:NAME` on the stored (half-precision)
weights and adds its numbers to the card. After it, `ganforge zoo` lists the entry and
`ganforge sample zoo:NAME` works offline.

    python benchmarks/make_zoo.py runs/dcgan_mnist dcgan_mnist            # into the package
    python benchmarks/make_zoo.py runs/x x --out /tmp/zoo --eval-n 500     # elsewhere; GANFORGE_ZOO=/tmp/zoo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.version import source_commit


def make_entry(run: str, name: str, out: Path, dtype: str = "fp16", preset: str | None = None) -> Path:
    """Write the entry's weights and card (without evaluation numbers); returns the card's path."""
    from ganforge.runs import RunDir, RunLock
    from ganforge.training.checkpoint import load_checkpoint
    from ganforge.zoo import write_entry

    if Path(run).is_dir():  # a run still training would give the entry an unfinished checkpoint
        try:
            RunLock(RunDir(run)).acquire().release()
        except GanforgeError as e:
            raise GanforgeError(f"{e} (make the zoo entry once its training has finished)") from None
    state = load_checkpoint(run)
    cfg = state["config"]
    ema = state.get("g_ema") is not None
    step = int(state["step"])
    images = step * cfg["data"]["batch_size"] * cfg["train"]["d_steps"]
    card = {"preset": preset or cfg["name"], "data": cfg["data"]["name"],
            "commit": cfg.get("ganforge_commit") or source_commit() or "unknown", "step": step,
            "images_seen": images, "kimg": round(images / 1000, 1), "ema": ema,
            "source_run": str(Path(run).resolve()), "ganforge_version": state.get("version", "")}
    return write_entry(out, name, state["g_ema"] if ema else state["g"], cfg, card, dtype)


def evaluate_entry(name: str, out: Path, n: int | None, metrics: str | None) -> dict:
    """`ganforge eval zoo:NAME` (a separate process, with GANFORGE_ZOO=out) and its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "eval.json"
        cmd = [sys.executable, "-m", "ganforge", "eval", f"zoo:{name}", "--json", str(result), "--no-progress"]
        cmd += (["--n", str(n)] if n else []) + (["--metrics", metrics] if metrics else [])
        env = {**os.environ, "GANFORGE_ZOO": os.pathsep.join([str(out), os.environ.get("GANFORGE_ZOO", "")])}
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"ganforge eval zoo:{name} failed: {p.stderr.strip().splitlines()[-1:]}")
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="run directory (or checkpoint file)")
    ap.add_argument("name", help="entry name: zoo:NAME")
    ap.add_argument("--out", default=None, help="zoo folder (default: the package's src/ganforge/zoo)")
    ap.add_argument("--dtype", choices=["fp16", "bf16"], default="fp16")
    ap.add_argument("--preset", default=None, help="preset the run was trained from (default: its config's name)")
    ap.add_argument("--eval-n", type=int, default=None, help="samples for the card's evaluation (default ganforge eval's)")
    ap.add_argument("--metrics", default=None, help="metrics for the card (default what fits the data set)")
    args = ap.parse_args(argv)
    from ganforge.zoo import PACKAGE_ZOO, update_card

    out = Path(args.out) if args.out else PACKAGE_ZOO
    try:
        card = make_entry(args.run, args.name, out, args.dtype, args.preset)
    except GanforgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = evaluate_entry(args.name, out, args.eval_n, args.metrics)
    os.environ["GANFORGE_ZOO"] = os.pathsep.join([str(out), os.environ.get("GANFORGE_ZOO", "")])
    update_card(args.name, eval=result)
    print(f"wrote {card} and {card.with_suffix('.pt')} (eval: "
          + ", ".join(f"{k} {v:.4g}" for k, v in result.items() if isinstance(v, float)) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
