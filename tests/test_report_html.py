"""``ganforge report --html``: one self-contained page per run, or a comparison of several.

Structural checks parse the HTML (every picture an inlined image PIL decodes, nothing fetched
from elsewhere, the comparison table's differing config keys highlighted). Then the pages are
rendered in headless Chromium, driven over the DevTools protocol on ``--remote-debugging-pipe``
with the standard library only: every image decodes, the slider shows every grid, no console
error, and the screenshot is not blank. Without Chromium that test skips, unless ``CI`` is set
(``.ci/run`` installs it), where it fails.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from conftest import small_config, write_idx
from ganforge.cli import main
from ganforge.training.run import train

FAST = {"data": {"name": "mnist", "batch_size": 16},
        "model": {"g": {"hidden": [32], "output": "tanh"}, "d": {"hidden": [32]}},
        "train": {"steps": 30},
        "log": {"every": 5, "sample_every": 10, "checkpoint_every": 0},
        "eval": {"every": 15, "n": 64, "metrics": ["fid"]}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Two tiny runs on fake MNIST, trained once for the module, that differ in optim.g_lr; the
    first one evaluated (eval.json)."""
    import numpy as np

    from ganforge.data import mnist
    from ganforge.evaluation.run import run_eval

    root = tmp_path_factory.mktemp("report_html")
    rng = np.random.default_rng(0)
    with pytest.MonkeyPatch.context() as mp:
        for prefix, n in (("train", 256), ("t10k", 64)):  # bright squares, label = the square's row band
            labels = rng.integers(0, 10, n).astype(np.uint8)
            images = np.zeros((n, 28, 28), np.uint8)
            for i, lab in enumerate(labels):
                c = int(rng.integers(2, 20))
                images[i, 2 + 2 * lab:8 + 2 * lab, c:c + 6] = 255
            for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
                fname = f"{prefix}-{kind}-ubyte.gz"
                mp.setitem(mnist.MNIST.md5, fname, write_idx(root / "data" / "mnist" / fname, arr))
        mp.setenv("GANFORGE_DATA", str(root / "data"))
        mp.setenv("GANFORGE_CACHE", str(root / "cache"))
        mp.chdir(root)
        a, _, status_a = train(small_config(**FAST), run_dir="a")
        b, _, status_b = train(small_config(**dict(FAST, optim={"g_lr": 1e-3})), run_dir="b")
        assert status_a == status_b == "finished"
        run_eval(str(a), "fid", n=64, progress=False)
    assert (root / "a" / "eval.json").is_file() and not (root / "b" / "eval.json").exists()
    return root


@pytest.fixture
def runs(trained) -> tuple[Path, Path]:
    """Copies of the two runs in this test's directory."""
    for name in ("a", "b"):
        shutil.copytree(trained / name, name)
    return Path("a"), Path("b")


# ------------------------------------------------------------------ reading the page
class Page(HTMLParser):
    """The tags of a page (with their attributes) and the rows of its tables (class, cell texts)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[tuple[str, list[str]]] = []
        self.scripts: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._script: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "tr":
            self._row = []
            self.rows.append((attrs.get("class") or "", self._row))
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script":
            self._script = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._script is not None:
            self._script.append(data)

    def all(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


def decode_data_uri(uri: str) -> Image.Image:
    m = re.fullmatch(r"data:(image/(?:png|gif|jpeg));base64,([A-Za-z0-9+/=]+)", uri)
    assert m, f"not a base64 image data: URI: {uri[:60]}"
    image = Image.open(io.BytesIO(base64.b64decode(m.group(2))))
    image.load()
    assert image.width > 0 and image.height > 0
    assert image.format == m.group(1).split("/")[1].upper()
    return image


def check_self_contained(path: Path) -> Page:
    """Every <img> an inlined image that decodes; nothing that would reach the network."""
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    images = page.all("img")
    assert images, "the page shows no image"
    for attrs in images:
        decode_data_uri(attrs["src"])
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), f"<{tag} {name}={value[:60]!r}> is not inline"
    assert not page.all("link") and not page.all("iframe") and not page.all("object")
    assert "@import" not in text and "url(http" not in text
    return page


def grids_of(run: Path) -> list[Path]:
    return sorted((run / "samples").glob("step_*.png"))


# ------------------------------------------------------------------ structure
def test_one_run_page(runs, capsys):
    a, _ = runs
    assert main(["report", str(a), "--html"]) == 0
    out = a / "report.html"
    assert f"wrote {out}" in capsys.readouterr().out
    page = check_self_contained(out)
    alts = [img["alt"] for img in page.all("img")]
    assert "loss and D(x)/D(G(z)) curves" in alts and "training GIF" in alts and "last sample grid" in alts
    assert any(alt.startswith("fid over training") for alt in alts)  # eval.every = 15: steps 15 and 30
    gif = [img for img in page.all("img") if img["alt"] == "training GIF"][0]
    assert decode_data_uri(gif["src"]).n_frames == len(grids_of(a)) == 4

    # the slider: one frame per grid, each an image, the last one shown first
    (slider,) = [i for i in page.all("input") if i.get("type") == "range"]
    frames = json.loads(page.scripts[[i for i, s in enumerate(page.scripts) if '"src"' in s][0]])
    assert [f["step"] for f in frames] == ["0", "10", "20", "30"]
    assert int(slider["max"]) == len(frames) - 1 == int(slider["value"])
    for f in frames:
        decode_data_uri(f["src"])
    assert [i for i in page.all("img") if i.get("id") == "frame"][0]["src"] == frames[-1]["src"]

    # the evaluation table: this run's number beside the real-data baseline (docs/results.json)
    ev = json.loads((a / "eval.json").read_text())
    (fid_row,) = [cells for cls, cells in page.rows if cells and cells[0] == "fid" and len(cells) == 3]
    assert float(fid_row[1]) == pytest.approx(ev["fid"], rel=1e-3)
    results = Path(__file__).resolve().parents[1] / "docs" / "results.json"
    if results.is_file():
        want = json.loads(results.read_text())["baselines"]["mnist"]["fid"]
        assert float(fid_row[2]) == pytest.approx(want, rel=1e-3)
    # the resolved config, as a table
    assert ["g_lr", "0.0002"] in [cells for _, cells in page.rows]

    # without --html: the GIF and loss curves, as before
    assert main(["report", str(a)]) == 0
    assert Image.open(a / "training.gif").n_frames == 4 and (a / "losses.png").is_file()


def test_comparison_page(runs, capsys):
    a, b = runs
    assert main(["report", str(a), str(b), "--html"]) == 0
    out = Path("report.html")  # several runs: in the current directory
    assert out.is_file()
    page = check_self_contained(out)
    header = [cells for _, cells in page.rows if cells and cells[0] == ""][0]
    assert header[1:] == ["a", "b"]
    diff = {cells[0]: cells[1:] for cls, cells in page.rows if cls == "diff"}
    assert diff == {"optim.g_lr": ["0.0002", "0.001"]}
    rows, section = {}, ""
    for cls, cells in page.rows:
        if cls == "section":
            section = cells[0].split(" ")[0]
        elif cells:
            rows[section, cells[0]] = cells[1:]
    assert rows["training", "steps"] == ["30", "30"]
    assert all(float(v) > 0 for v in rows["training", "img/s (median)"])
    ev = json.loads((a / "eval.json").read_text())
    assert float(rows["evaluation", "fid"][0]) == pytest.approx(ev["fid"], rel=1e-3)
    assert rows["evaluation", "fid"][1] == "\u2014"  # b has no eval.json
    assert rows["last", "step"] == ["30", "30"]  # the periodic evaluations in metrics.jsonl
    assert all(float(v) > 0 for v in rows["last", "fid"])
    alts = [img["alt"] for img in page.all("img")]
    assert "training curves, one colour per run" in alts and "periodic metrics, one colour per run" in alts
    assert "last samples of a" in alts and "last samples of b" in alts

    assert main(["report", str(a), str(b), "--html", "--out", "sub/cmp.html"]) == 0
    check_self_contained(Path("sub/cmp.html"))


def test_missing_pieces_are_notes_and_a_non_run_is_one_error_line(runs, capsys):
    a, _ = runs
    bare = Path("bare")
    bare.mkdir()
    shutil.copy(a / "config.toml", bare / "config.toml")
    lines = (a / "metrics.jsonl").read_text().splitlines()
    (bare / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 35, "d_lo')  # cut short mid-write
    assert main(["report", str(bare), "--html"]) == 0
    text = (bare / "report.html").read_text()
    assert "no sample grids" in text and "no eval.json" in text and "unreadable line" in text
    check_self_contained(bare / "report.html")
    capsys.readouterr()

    Path("empty").mkdir()
    for argv in (["report", "nowhere", "--html"], ["report", "empty", "--html"], ["report", str(a), "empty", "--html"],
                 ["report", str(a), "--html", "--out", "x.png"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    assert not Path("report.html").exists()


def test_one_evaluation_is_a_row_and_none_says_how_to_add_one(runs):
    a, b = runs
    lines = (a / "metrics.jsonl").read_text().splitlines()
    evals = [line for line in lines if '"eval"' in line]
    assert len(evals) == 3  # eval.every = 15 over 30 steps, and the module's `ganforge eval`
    (a / "metrics.jsonl").write_text("\n".join([line for line in lines if '"eval"' not in line] + evals[:1]) + "\n")
    assert main(["report", str(a), "--html"]) == 0
    page = check_self_contained(a / "report.html")
    assert not any(img["alt"].endswith("over training") for img in page.all("img"))  # no plot of one dot
    once = json.loads(evals[0])
    (row,) = [cells for _, cells in page.rows if cells and cells[0] == "fid" and len(cells) == 3 and cells[1] == "15"]
    assert float(row[2]) == pytest.approx(once["eval"]["fid"], rel=1e-3)

    # compared with a run evaluated twice: b's curve is drawn, a's one evaluation is a row naming the run
    assert main(["report", str(a), str(b), "--html"]) == 0
    page = check_self_contained(Path("report.html"))
    assert "periodic metrics, one colour per run" in [img["alt"] for img in page.all("img")]
    assert ["a", "fid", "15"] in [cells[:3] for _, cells in page.rows]

    (b / "metrics.jsonl").write_text("\n".join(x for x in (b / "metrics.jsonl").read_text().splitlines()
                                               if '"eval"' not in x) + "\n")
    assert main(["report", str(b), "--html"]) == 0
    text = (b / "report.html").read_text()
    assert "add eval.every=N to the ganforge train line" in text and f"ganforge eval {b}" in text


def test_two_feature_spaces_are_two_series_and_a_step_evaluated_twice_is_one_point(tmp_path):
    from ganforge.report_html.runinfo import eval_series, load_run

    run = tmp_path / "r"
    (run / "samples").mkdir(parents=True)
    ev = lambda step, space, fid, age: json.dumps({"step": step, "eval": {  # noqa: E731
        "n": 100, "features": space, "fid": fid, "recall": fid / 10, "age": age}})
    (run / "metrics.jsonl").write_text("\n".join([
        json.dumps({"step": 10, "d_loss": 1.0}), ev(10, "pixels16", 9.0, 0.5), ev(20, "pixels16", 5.0, 0.4),
        ev(20, "folder_classifier", 40.0, 0.4), ev(20, "pixels16", 4.0, 0.3)]) + "\n")
    series = eval_series(load_run(run))
    assert series["fid [pixels16]"] == ([10, 20], [9.0, 4.0])  # the later evaluation of step 20 counts
    assert series["fid [folder_classifier]"] == ([20], [40.0])
    assert series["recall [folder_classifier]"] == ([20], [4.0])
    assert series["age"] == ([10, 20], [0.5, 0.3])  # D's numbers do not depend on the feature space
    (run / "metrics.jsonl").write_text(ev(10, "pixels16", 9.0, 0.5) + "\n" + ev(20, "pixels16", 5.0, 0.4) + "\n")
    assert eval_series(load_run(run))["fid"] == ([10, 20], [9.0, 5.0])  # one space: plain keys


def test_conditional_run_gets_a_grid_per_class(fake_mnist):
    cond = {"data": {"name": "mnist", "batch_size": 20},
            "model": {"conditioning": "acgan", "g": {"hidden": [32], "output": "tanh"}, "d": {"hidden": [32]}},
            "train": {"steps": 10}, "log": {"n_samples": 30, "checkpoint_every": 0}}
    run, _, _ = train(small_config(**cond), run_dir="c")
    assert main(["report", str(run), "--html"]) == 0
    page = check_self_contained(run / "report.html")
    (grid,) = [img for img in page.all("img") if img["alt"] == "samples per class"]
    image = decode_data_uri(grid["src"])
    assert image.size == (2 * (8 * 30 + 2), 2 * (10 * 30 + 2))  # 10 rows (classes) of 8, 28 px + 2 padding, x2


# ------------------------------------------------------------------ in a real browser
def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def chromium() -> str:
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (.ci/run installs it with apt-get)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return exe


# a trampoline: the two pipe ends given as fds argv[1], argv[2] become fds 3 and 4, then exec argv[3:]
# (a shell cannot name fds above 9, and a preexec_fn is not safe in a process with threads)
ON_FDS_3_4 = """import fcntl, os, sys
fds = [int(x) for x in sys.argv[1:3]]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]
for fd in fds:
    os.close(fd)
os.dup2(high[0], 3)
os.dup2(high[1], 4)
os.execv(sys.argv[3], sys.argv[3:])
"""


class Browser:
    """Headless Chromium over the DevTools protocol on ``--remote-debugging-pipe``: JSON messages
    ended by NUL, commands into the child's fd 3, answers and events out of its fd 4."""

    def __init__(self, exe: str, profile: Path, width: int = 1200, height: int = 900):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        args = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-c", ON_FDS_3_4, str(to_child_r), str(from_child_w), exe, *args],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     pass_fds=(to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf, self._id, self.events, self._session = b"", 0, [], None

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                self._log.seek(0)
                raise RuntimeError(f"chromium closed the pipe: {self._log.read().decode(errors='replace')[-800:]}")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, browser: bool = False, timeout: float = 60) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if self._session and not browser:
            message["sessionId"] = self._session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.events):
            if m.get("method") == event:
                return self.events.pop(i)
        while True:
            m = self._read(deadline)
            if m.get("method") == event:
                return m
            self.events.append(m)

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                  browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error-level log entries so far."""
        out = []
        for m in self.events:
            method, p = m.get("method"), m.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                        for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
        return out

    def requests(self) -> list[str]:
        return [m["params"]["request"]["url"] for m in self.events if m.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", browser=True, timeout=10)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()


# steps the slider through every frame, then reads every image's decoded size
CHECK = """(async () => {
  const out = {slider: [], images: []};
  const s = document.querySelector('input[type=range]');
  if (s) {
    const img = document.getElementById('frame');
    for (let v = 0; v <= +s.max; v++) {
      s.value = v; s.dispatchEvent(new Event('input'));
      await img.decode().catch(e => console.error('slider frame ' + v + ': ' + e));
      out.slider.push({w: img.naturalWidth, label: document.getElementById('frame-step').textContent,
                       src: img.src.slice(-40)});
    }
  }
  for (const img of Array.from(document.images)) {
    await img.decode().catch(() => {});
    out.images.push({alt: img.alt, w: img.naturalWidth, h: img.naturalHeight, complete: img.complete});
  }
  out.height = document.documentElement.scrollHeight;
  return out;
})()"""


def render(exe: str, page: Path, shot: Path, profile: Path) -> dict:
    browser = Browser(exe, profile)
    try:
        browser.open(page.resolve().as_uri())
        result = browser.evaluate(CHECK)
        browser.screenshot(shot)
        result["errors"] = browser.errors()
        result["requests"] = browser.requests()
    finally:
        browser.close()
    return result


def assert_not_blank(shot: Path) -> None:
    image = Image.open(shot).convert("RGB")
    assert image.width >= 1000 and image.height >= 900
    colours = image.getcolors(maxcolors=1 << 24)
    assert len(colours) > 64, f"the screenshot has only {len(colours)} colours"
    top = max(c for c, _ in colours)
    assert top < 0.97 * image.width * image.height, "the screenshot is nearly one colour"


def test_pages_render_in_chromium(chromium, runs, tmp_path):
    a, b = runs
    assert main(["report", str(a), "--html"]) == 0
    assert main(["report", str(a), str(b), "--html", "--out", "compare.html"]) == 0
    n_img = {p: len(Page(p.read_text()).all("img")) for p in (a / "report.html", Path("compare.html"))}
    for page, shot in ((a / "report.html", tmp_path / "one_run.png"), (Path("compare.html"), tmp_path / "compare.png")):
        result = render(chromium, page, shot, tmp_path / f"profile-{shot.stem}")
        assert result["errors"] == [], result["errors"]
        assert all(url.startswith("data:") or url == page.resolve().as_uri() for url in result["requests"]), \
            result["requests"]
        assert len(result["images"]) == n_img[page]
        bad = [i for i in result["images"] if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
        assert not bad, f"images that did not decode: {bad}"
        assert_not_blank(shot)
        if page.name == "report.html":
            labels = [f["label"] for f in result["slider"]]
            assert labels == [f"step {s} ({k + 1}/4)" for k, s in enumerate((0, 10, 20, 30))]
            assert all(f["w"] > 0 for f in result["slider"])
            assert len({f["src"] for f in result["slider"]}) == 4  # a different picture at each step
        else:
            assert result["slider"] == []
