"""One-shot GPU check, in at most about 8 minutes, into one markdown file written as it goes:

    bash benchmarks/gpu_check.sh OUT.md [--budget SECONDS]          (or PYTHONPATH=src python benchmarks/gpu_check.py ...)

Parts, in this order, each a subprocess with its own time limit (cut to what is left of ``--budget``,
default 440 s; a part that no longer fits is recorded as skipped, so one failure cannot eat the rest):

1. the machine: torch, CUDA, cuDNN, the GPU (``nvidia-smi``);
2. the CUDA tests, ``pytest tests/test_cuda.py``;
3. a synthetic 64 px faces folder of 2,000 images (``benchmarks/make_faces_folder.py``);
4. ``ganforge bench`` on CUDA in fp32, bf16 and fp16 (trainer, bare loop, and the PyTorch DCGAN
   tutorial's loop on the same nets; FLOPs/step, GFLOP/s, matmul peak, fraction of peak) for
   ``dcgan_mnist``, ``dcgan_mnist`` at width 128 and ``dcgan_faces64`` on the faces folder, channels_last;
5. the demo (``configs/demo_mnist.toml``, its 6 epochs) trained on the GPU, then ``ganforge eval`` on it;
6. the same benches with NCHW tensors (``model.channels_last=false``);
7. the benches with ``train.compile=default``, one precision per call (bf16 first), as time allows.

MNIST comes from ``$GANFORGE_DATA`` (else ``shared/data`` in or beside the checkout); the GPU machine
has no network, so without the files the MNIST parts are skipped with a line saying so. Without CUDA
the script prints one line saying so, writes it to OUT and exits 0 (tests/test_speed_scripts.py runs it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")
# name, config, overrides, bench steps, time limit of a bench call in three precisions (s)
PRESETS = [("dcgan_mnist", "configs/dcgan_mnist.toml", [], 200, 60),
           ("dcgan_mnist_w128", "configs/dcgan_mnist.toml", ["model.g.width=128", "model.d.width=128"], 200, 75),
           ("dcgan_faces64", "configs/dcgan_faces64.toml", ["train.ema_kimg=0"], 100, 100)]  # bench mirrors no EMA
COMPILE_LIMIT = 150  # s, one precision with train.compile=default (inductor compiles the trainer's and the bare loop's nets)


@dataclass
class Part:
    name: str
    argv: list[str]
    timeout: float
    needs: str = ""  # "mnist", "faces" or "demo" (its run): skipped when missing


def ganforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganforge", *args]


def plan(work: Path) -> list[Part]:
    """Every part of the check, in order (``work``: a scratch folder for the faces, runs and JSON files)."""
    faces, demo = work / "faces", work / "demo"
    py = sys.executable
    parts = [
        Part("machine", [py, "-c", "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', "
                         "torch.backends.cudnn.version(), torch.cuda.get_device_name(0), 'bf16', "
                         "torch.cuda.is_bf16_supported())"], 60),
        Part("nvidia-smi", ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                            "--format=csv"], 20),
        Part("CUDA tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cuda.py"], 150),
        Part("faces folder", [py, "benchmarks/make_faces_folder.py", str(faces), "--n", "2000"], 90),
    ]

    def bench(preset, extra, precision, compiled=False):
        name, config, overrides, steps, limit = preset
        data = [f"data.path={faces}"] if "faces" in config else []
        tag = "_".join([name, *[e.split("=")[1].replace("-", "") for e in extra], precision.replace(",", "")])
        steps, warmup, repeats = (steps // 2, 10, 2) if compiled else (steps, 20, 3)
        return Part(f"bench {name} {' '.join(extra)} {precision}", ganforge(
            "bench", config, *overrides, *data, "train.device=cuda", *extra, "--precision", precision,
            "--steps", str(steps), "--warmup", str(warmup), "--repeats", str(repeats),
            "--json", str(work / f"bench_{tag}.json")), COMPILE_LIMIT if compiled else limit, "faces" if data else "mnist")

    every = "fp32,bf16,fp16"
    parts += [bench(preset, ["model.channels_last=true"], every) for preset in PRESETS]
    parts += [Part("demo training", ganforge("train", "configs/demo_mnist.toml", "train.device=cuda",
                                             "log.progress=false", "--run-dir", str(demo)), 150, "mnist"),
              Part("demo eval", ganforge("eval", str(demo), "--device", "cuda", "--no-progress"), 90, "demo")]
    parts += [bench(preset, ["model.channels_last=false"], every) for preset in PRESETS]
    parts += [bench(preset, ["model.channels_last=true", "train.compile=default"], p, compiled=True)
              for p in ("bf16", "fp16", "fp32") for preset in PRESETS]
    return parts


def data_root() -> Path | None:
    """The MNIST root: $GANFORGE_DATA, else shared/data in or beside the checkout, if it holds the files."""
    candidates = [os.environ.get("GANFORGE_DATA"), ROOT / "shared" / "data", ROOT.parent / "shared" / "data"]
    for c in filter(None, candidates):
        if all((Path(c) / "mnist" / f).is_file() for f in MNIST_FILES):
            return Path(c)
    return None


def run_part(part: Part, timeout: float, env: dict) -> tuple[str, float, str]:
    """(status, seconds, output) of one part; the output of a part stopped by its limit is kept."""
    start = time.perf_counter()
    try:
        p = subprocess.Popen(part.argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    except OSError as exc:
        return f"failed to start ({exc.strerror})", 0.0, ""
    try:
        out, _ = p.communicate(timeout=timeout)
        status = "ok" if p.returncode == 0 else f"exit status {p.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 15)  # its own session: the part and its children
        try:
            out, _ = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            out, _ = p.communicate()
        status = f"stopped at its limit of {timeout:.0f} s"
    return status, time.perf_counter() - start, out or ""


def run_all(parts: list[Part], budget: float, runner, have_mnist: bool, work: Path, clock=time.perf_counter):
    """Yields (part, status, seconds, output) for each part in turn: run by ``runner(part, limit)`` with its
    limit cut to the budget left (less 5 s), or skipped when what it needs is missing or under 20 s are left."""
    deadline = clock() + budget
    done: dict[str, str] = {}
    for part in parts:
        left = deadline - clock()
        if part.needs == "mnist" and not have_mnist:
            result = ("skipped: no MNIST files (no network here)", 0.0, "")
        elif part.needs == "faces" and done.get("faces folder") != "ok":
            result = ("skipped: no faces folder", 0.0, "")
        elif part.needs == "demo" and not (work / "demo" / "checkpoints" / "last.pt").is_file():
            result = ("skipped: no demo run", 0.0, "")
        elif left < 20:
            result = ("skipped: out of time", 0.0, "")
        else:
            result = runner(part, min(part.timeout, left - 5))
        done[part.name] = result[0]
        yield (part, *result)


class Report:
    """The markdown file: a summary table of the parts and each part's command, output (and the JSON a
    bench wrote), rewritten after every part so that a check cut short still leaves what it measured."""

    def __init__(self, path: Path, header: str):
        self.path, self.header, self.rows, self.sections = path, header, [], []

    def add(self, part: Part, status: str, seconds: float, output: str, data: str = "", tail: int = 80) -> None:
        self.rows.append(f"| {part.name} | {status} | {seconds:.0f} |")
        lines = output.rstrip().splitlines()
        shown = ("...\n" if len(lines) > tail else "") + "\n".join(lines[-tail:])
        self.sections.append(f"## {part.name}\n\n`{shlex.join(part.argv)}`\n\n{status}, {seconds:.1f} s\n\n"
                             f"```\n{shown}\n```\n" + (f"\n```json\n{data.strip()}\n```\n" if data else ""))
        self.write()

    def write(self) -> None:
        table = "| part | status | seconds |\n|---|---|---:|\n" + "\n".join(self.rows)
        self.path.write_text(f"{self.header}\n\n{table}\n\n" + "\n".join(self.sections))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the results file (markdown), e.g. $OUT/gpu_check.md")
    ap.add_argument("--budget", type=float, default=440.0,
                    help="seconds for all parts together (default 440: with start-up and a stopped part's grace, under 8 min)")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    import torch

    if not torch.cuda.is_available():
        line = f"gpu_check: CUDA is not available here (torch {torch.__version__}); nothing to check"
        out.write_text(line + "\n")
        print(line)
        return 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    root = data_root()
    if root is not None:
        env["GANFORGE_DATA"] = str(root)
    report = Report(out, f"# gpu_check\n\n{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, budget {args.budget:.0f} s, MNIST: "
                         + (str(root) if root else "not found (set GANFORGE_DATA; the MNIST parts are skipped)"))
    report.write()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for part, status, seconds, output in run_all(plan(Path(tmp)), args.budget, lambda p, t: run_part(p, t, env),
                                                     root is not None, Path(tmp)):
            written = Path(part.argv[part.argv.index("--json") + 1]) if "--json" in part.argv else None
            report.add(part, status, seconds, output, written.read_text() if written and written.is_file() else "")
            print(f"gpu_check: {part.name}: {status} ({seconds:.0f} s)", flush=True)
    print(f"gpu_check: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
