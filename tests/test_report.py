"""gankit report: one self-contained HTML page of a run (src/gankit/report.py).

(a) what the page holds, read from the HTML: no network reference, every image a decodable PNG data:
URI, a curve for every logged key, compare mode, one-line errors; (b) a real headless Chromium opens
the page from a file:// URL over the DevTools protocol (--remote-debugging-pipe: no websocket client
needed) and reports every request the page made, every image that failed to decode, and a screenshot.
"""
from __future__ import annotations

import base64
import fcntl
import io
import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from gankit.cli import main
from gankit.report import build_report, group_of, svg_chart, Line, MAX_STRIP

TINY = ["model.g.width=8", "model.d.width=8", "train.steps=4", "train.progress=false", "train.tensorboard=false",
        "train.sample_every=2", "train.checkpoint_every=0", "train.log_every=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny trained gan-digits run, and a copy of it under another name (the second run of --compare)."""
    from gankit.api import train

    root = tmp_path_factory.mktemp("report")
    a = root / "digits-a"
    train("gan-digits", TINY, out=a)
    b = root / "digits-b"
    shutil.copytree(a, b)
    rows = [json.loads(line) for line in (b / "metrics.jsonl").read_text().splitlines()]
    with open(b / "metrics.jsonl", "w") as f:  # a different last value, so the table has something to compare
        for row in rows:
            f.write(json.dumps({**row, "loss/D": row["loss/D"] + 1}) + "\n")
    return a, b


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of the chart legends."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.legend: list[str] = []
        self._in_key = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "span" and a.get("class") == "key":
            self._in_key += 1
            self.legend.append("")

    def handle_endtag(self, tag):
        if tag == "span" and self._in_key:
            self._in_key -= 1

    def handle_data(self, data):
        if self._in_key:
            self.legend[-1] += data


def _report(tmp_path, *args) -> str:
    out = tmp_path / "r.html"
    assert main(["report", *map(str, args), "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,"), uri[:60]
    raw = base64.b64decode(uri.split(",", 1)[1], validate=True)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n") and len(raw) > 100
    im = Image.open(io.BytesIO(raw))
    im.load()
    assert im.width > 0 and im.height > 0
    return im


# -- (a) the page, read as HTML ---------------------------------------------------------------------
def test_page_loads_nothing_from_anywhere(runs, tmp_path):
    text = _report(tmp_path, runs[0])
    assert not re.search(r"https?://", text), "the page names a network address"
    page = _Page(text)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base"), tag
        for name in ("src", "href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), f"<{tag} {name}={value[:60]!r}>"
    assert "url(" not in text and "@import" not in text
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]


def test_every_image_is_an_embedded_png(runs, tmp_path):
    page = _Page(_report(tmp_path, runs[0]))
    imgs = [a for t, a in page.tags if t == "img"]
    grids = sorted((runs[0] / "samples").glob("step-*.png"))
    assert len(imgs) == len(grids) + 1 >= 3  # the strip (step 0, 2) and the final grid
    for a in imgs:
        im = _png(a["src"])
        assert (im.width, im.height) == (int(a["width"]), int(a["height"]))
    final = Image.open(runs[0] / "samples" / "final.png")
    assert any(_png(a["src"]).tobytes() == final.tobytes() for a in imgs)


def test_curves_include_every_logged_key(runs, tmp_path):
    text = _report(tmp_path, runs[0])
    rows = [json.loads(line) for line in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    keys = {k for row in rows for k in row if k not in ("step", "kimg")}
    assert {"loss/D", "loss/G", "D_out/real", "D(x)", "D(G(z))"} <= keys
    page = _Page(text)
    assert keys <= set(page.legend), keys - set(page.legend)
    assert text.count("<polyline") >= len(keys)
    for title in ("loss/*", "D_out/*", "D as a probability"):
        assert f"<h3>{title}</h3>" in text
    assert "config.yaml</summary>" in text and "latent_dim: 32" in text  # the config, collapsed


def test_compare_shows_both_runs(runs, tmp_path):
    text = _report(tmp_path, runs[0], "--compare", runs[1])
    page = _Page(text)
    assert "<th>digits-a</th><th>digits-b</th>" in text  # one column per run in the table of final values
    assert {"digits-a", "digits-b"} <= set(page.legend)  # one colour per run in the charts
    assert text.count("<polyline") >= 2 * 5  # both runs' curves of loss/D, loss/G, D_out/*, D(x), D(G(z))
    last_d = [json.loads(line)["loss/D"] for line in (runs[0] / "metrics.jsonl").read_text().splitlines()][-1]
    assert f">{last_d:.4g}<" in text and f">{last_d + 1:.4g}<" in text


def test_default_out_is_in_the_run(runs, capsys):
    assert main(["report", str(runs[0])]) == 0
    assert (runs[0] / "report.html").is_file()
    assert str(runs[0] / "report.html") in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing", "not-a-run", "file", "bad-out", "twice"])
def test_bad_input_is_one_line_exit_2(runs, tmp_path, capsys, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "f.txt").write_text("x")
    argv = {"missing": [str(tmp_path / "nope")], "not-a-run": [str(tmp_path / "empty")],
            "file": [str(tmp_path / "f.txt")], "bad-out": [str(runs[0]), "--out", str(tmp_path / "r.txt")],
            "twice": [str(runs[0]), "--compare", str(runs[0])]}[case]
    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: "), err
    assert "Traceback" not in err


def _fake_run(root: Path, name: str, steps: int, text: bool = False) -> Path:
    """A run directory written by hand: grids (or text previews) every 10 steps, eval rows, an eval JSON."""
    run = root / name
    (run / "samples").mkdir(parents=True)
    (run / "eval").mkdir()
    (run / "config.yaml").write_text("game:\n  name: gan\ndata:\n  name: mnist\neval:\n  n: 2000\n")
    rows = []
    for s in range(0, steps + 1, 10):
        rows.append({"step": s, "loss/D": 1 / (s + 1), "began/M": math.nan if s == 20 else s / 10, "kimg": s})
        if s % 50 == 0:
            rows.append({"step": s, "eval/fid[classifier:mnist]": 100 - s / 10, "eval/recall[classifier:mnist]": 0.5})
        if text:
            (run / "samples" / f"step-{s:07d}.txt").write_text(f"sample <{s}> & more\n")
        else:
            Image.new("L", (8, 8), s % 256).save(run / "samples" / f"step-{s:07d}.png")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 9')  # (a torn line)
    if text:
        (run / "samples" / "final.txt").write_text("final <name>\n")
    else:
        Image.new("RGB", (8, 8), "red").save(run / "samples" / "final.png")
    (run / "eval" / "scores.json").write_text(json.dumps(
        {"extractor": "classifier:mnist", "scores": {"kid[classifier:mnist]": 0.25}, "extractor_info": {},
         "notes": ["a note"]}))
    return run


def test_strip_subsamples_and_eval_table(tmp_path):
    run = _fake_run(tmp_path, "fake", 300)
    text = build_report([run])
    page = _Page(text)
    captions = re.findall(r"<figcaption>step ([\d,]+)</figcaption>", text)
    assert len(captions) == MAX_STRIP and captions[0] == "0" and captions[-1] == "300"
    assert len([a for t, a in page.tags if t == "img"]) == MAX_STRIP + 1
    assert "began/*" in text and "began/M" in page.legend  # game-specific groups get their chart
    assert "non-finite values left out" in text and "unreadable line of metrics.jsonl" in text
    # the evaluation table: the score, its extractor, the sample count and the reference it is compared with
    row = re.search(r"<tr><td>fid\[classifier:mnist\][^<]*</td>(.*?)</tr>", text).group(1)
    assert ">70<" in row and "classifier:mnist" in row and "2,000 (eval.n)" in row and "train split" in row
    assert "kid[classifier:mnist]" in text and "eval/scores.json" in text and "a note" in text


def test_sequence_run_shows_text(tmp_path):
    run = _fake_run(tmp_path, "seq", 30, text=True)
    text = build_report([run])
    assert "<pre>final &lt;name&gt;</pre>" in text and "sample &lt;30&gt; &amp; more" in text
    assert "<img" not in text


def test_groups_and_chart_edge_cases():
    assert group_of("loss/D") == "loss/*" and group_of("D(G(z))") == "D as a probability"
    assert group_of("began/k") == "began/*" and group_of("seqgan/reward") == "seqgan/*"
    assert group_of("gumbel/beta") == "gumbel/*" and group_of("D_class_acc/real") == "D_class_acc/*"
    assert group_of("eval/fid_floor[x]") == group_of("eval/fid[x]") == "eval: fid"
    assert group_of("step") is None and group_of("kimg") is None
    pts = [(float(i), math.inf if i == 7 else (1e6 if i < 3 else math.sin(i / 50))) for i in range(5000)]
    svg, notes = svg_chart("t", [Line("k", "#000", "", pts)])
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    coords = [float(v) for v in re.findall(r"-?\d+\.\d", " ".join(re.findall(r'points="([^"]*)"', svg)))]
    assert coords and all(0 <= v <= 420 for v in coords)  # the spikes clamped inside the plot
    assert any("clipped" in n for n in notes)


# -- (b) a real browser ----------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out;
    NUL-terminated JSON), attached to one page."""

    def __init__(self, binary: str, profile: Path, timeout: float = 30):
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, res_w)]  # clear of 3 and 4
        for fd in (cmd_r, res_w):
            os.close(fd)
        args = [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                "--hide-scrollbars", "--window-size=1200,2000", f"--user-data-dir={profile}",
                "--remote-debugging-pipe", "about:blank"]
        put = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        self.proc = subprocess.Popen([sys.executable, "-c", put, *map(str, hi), *args], pass_fds=hi,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in hi:
            os.close(fd)
        self.timeout, self._buf, self._id, self.events = timeout, b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._res_r], [], [], left)[0]:
                raise TimeoutError("no reply from the browser")
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                raise EOFError("the browser closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: bool = False, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str) -> dict:
        """Load ``url``; what it did: the URLs it requested, its images and those that failed, a screenshot."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read(deadline))
        got = self.call("Runtime.evaluate", session=True, returnByValue=True, expression="""JSON.stringify({
            images: document.images.length,
            broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80)),
            resources: performance.getEntriesByType('resource').map(e => e.name),
            polylines: document.querySelectorAll('svg polyline').length})""")
        page = json.loads(got["result"]["value"])
        page["requests"] = [e["params"]["request"]["url"] for e in self.events
                            if e.get("method") == "Network.requestWillBeSent"]
        shot = self.call("Page.captureScreenshot", session=True, format="png")
        page["screenshot"] = Image.open(io.BytesIO(base64.b64decode(shot["data"])))
        return page

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._res_r)


def test_in_a_real_browser(runs, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium; .ci/run "
                    "installs it where it can)")
    report = tmp_path / "report.html"
    assert main(["report", str(runs[0]), "--compare", str(runs[1]), "--out", str(report)]) == 0
    # a control page the check must catch: a network image and a missing local one
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><p>control</p><img src="http://127.0.0.1:9/x.png">'
                       '<img src="missing.png"></body></html>')
    browser = _DevTools(binary, tmp_path / "profile")
    try:
        bad = browser.open(control.as_uri())
        page = browser.open(report.as_uri())
    finally:
        browser.close()
    assert "http://127.0.0.1:9/x.png" in bad["requests"] and len(bad["broken"]) == 2  # the check can fail

    others = [u for u in page["requests"] + page["resources"] if not u.startswith("data:") and u != report.as_uri()]
    assert others == [], f"the report made requests: {others}"
    assert page["images"] >= 2 and page["broken"] == [], page["broken"]
    assert page["polylines"] >= 10
    shot = page["screenshot"].convert("L")
    assert shot.size[0] >= 1000
    assert ImageStat.Stat(shot).var[0] > 0, "blank screenshot"
    dark = sum(shot.histogram()[:200]) / (shot.size[0] * shot.size[1])
    assert dark > 0.01, f"only {dark:.2%} of the screenshot is not near-white"
