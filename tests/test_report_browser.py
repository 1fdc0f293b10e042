"""The report in a real browser: headless Chromium, network off, driven over DevTools.

Chromium is Debian's ``/usr/bin/chromium``; ``scripts/ensure_chromium.sh`` installs it
when missing (as root). The tests skip, saying why, only when it cannot be installed.
The DevTools protocol is spoken over ``--remote-debugging-pipe`` (fds 3 and 4), so no
extra Python package is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_results

from fairmtl.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
ENSURE = Path(__file__).resolve().parent.parent / "scripts" / "ensure_chromium.sh"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--proxy-server=127.0.0.1:9",  # network off: every request would go to a closed port
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1280,1000",
    "--remote-debugging-pipe",
]
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Black|Female"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Chromium's path, installed by scripts/ensure_chromium.sh when missing."""
    if not CHROMIUM.exists():
        try:
            done = subprocess.run(
                ["bash", str(ENSURE)], capture_output=True, text=True, timeout=600
            )
        except subprocess.TimeoutExpired:
            pytest.skip("Chromium is missing and installing it took over 10 minutes")
        if done.returncode != 0 or not CHROMIUM.exists():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no reason given"]
            pytest.skip(f"Chromium is missing and could not be installed: {last[0]}")
    return CHROMIUM


def _above(fd: int, low: int) -> int:
    """Move `fd` to a close-on-exec descriptor numbered `low` or more."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return new


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, binary: Path, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Move the child's ends above fd 9, out of the way of fds 3 and 4 that they will
        # be copied onto; they close on exec, the copies do not.
        to_chrome_r, from_chrome_w = (_above(fd, 10) for fd in (to_chrome_r, from_chrome_w))

        def child_fds() -> None:  # runs in the child: its fd 3 reads, fd 4 writes
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [str(binary), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.session: str | None = None

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self.events.put(msg)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = True,
        timeout: float = 20,
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._next_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {method}")
                self._lock.wait(left)
            reply = self._replies.pop(self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(ev)
            if ev.get("method") == method:
                break
        else:
            raise TimeoutError(f"no {method} event")
        for ev in seen:  # keep the events for the checks
            self.events.put(ev)
        return ev

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def js(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self) -> bytes:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], 6000),
            "scale": 1,
        }
        shot = self.send(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
        )
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG into rows of raw pixel bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            depth, colour, interlace = body[8], body[9], body[12]
            assert depth == 8 and colour in (2, 6) and interlace == 0, body
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


@pytest.fixture()
def browser(chromium: Path, tmp_path: Path) -> Iterator[Browser]:
    b = Browser(chromium, tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


def _problems(events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Console errors, uncaught exceptions, dialogs and network requests among events."""
    out: dict[str, list[Any]] = {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    out["pages"] = []  # file:// loads: proof that requests are being watched
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            out["console"].append(p)
        elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            out["console"].append(p["entry"])
        elif method == "Runtime.exceptionThrown":
            out["exceptions"].append(p)
        elif method == "Page.javascriptDialogOpening":
            out["dialogs"].append(p)
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if url.startswith("file://"):
                out["pages"].append(url)
            elif not url.startswith(("data:", "about:")):
                out["requests"].append(url)
    return out


def test_report_in_browser(browser: Browser, tmp_path: Path) -> None:
    results = make_results(n_models=14, n_groups=8)
    page = write_report(results, tmp_path / "report.html")
    browser.open(page.as_uri())
    n_markers = browser.js("document.querySelectorAll('#frontier-svg [data-model-id]').length")
    assert n_markers == len(results["models"])
    assert browser.js("!document.getElementById('axis-controls').hidden")  # the script ran

    # Hover a marker: the card shows the model's label.
    hidden, text, model_id = browser.js(
        "(() => { const m = document.querySelector('#markers [data-model-id]:not(.missing)');"
        "m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));"
        "const c = document.getElementById('hover-card');"
        "return [c.hidden, c.textContent, m.getAttribute('data-model-id')]; })()"
    )
    labels = {m["id"]: m["label"] for m in results["models"]}
    assert hidden is False and labels[model_id] in text

    # Switch the vertical axis: markers move, the axis label follows.
    before = browser.js(
        "document.querySelector('#markers [data-model-id]').getAttribute('transform')"
    )
    browser.js(
        "(() => { const s = document.getElementById('y-select'); s.value = 'demographic_parity_difference';"
        "s.dispatchEvent(new Event('change')); })()"
    )
    after = browser.js(
        "document.querySelector('#markers [data-model-id]').getAttribute('transform')"
    )
    assert before != after
    assert "parity" in browser.js("document.getElementById('y-label').textContent")

    # Sort the per-group table by its first column, then back.
    names = (
        "Array.from(document.querySelectorAll('#group-table tbody td.name')).map(t => t.dataset.v)"
    )
    browser.js("document.querySelector('#group-table th button').click()")
    assert browser.js(names) == sorted(browser.js(names))
    browser.js("document.querySelector('#group-table th button').click()")
    assert browser.js(names) == sorted(browser.js(names), reverse=True)

    png = browser.screenshot()
    if os.environ.get("FAIRMTL_SCREENSHOT_DIR"):
        Path(os.environ["FAIRMTL_SCREENSHOT_DIR"], "report.png").write_bytes(png)
    width, bpp, rows = png_pixels(png)
    sample = [r[i : i + 3] for r in rows[::7] for i in range(0, len(r), bpp * 7)]
    assert len(set(sample)) > 20, "the screenshot is blank"
    non_white = sum(1 for px in sample if px != b"\xff\xff\xff")
    assert non_white / len(sample) > 0.02, "the screenshot is almost blank"

    problems = _problems(browser.drain())
    assert problems.pop("pages") == [page.as_uri()]
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}


def test_injection_in_browser(browser: Browser, tmp_path: Path) -> None:
    results = make_results(
        n_models=6,
        group_names=HOSTILE,
        target="</script><script>alert(2)</script>",
        source='"><svg onload=alert(3)>.csv',
    )
    results["models"][0]["label"] = "<b onmouseover=alert(4)>pooled</b>"
    page = write_report(results, tmp_path / "report.html")
    browser.open(page.as_uri())
    # Hover every marker, so that injected handlers would get their chance.
    browser.js(
        "document.querySelectorAll('#markers [data-model-id]').forEach(m =>"
        " m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})))"
    )
    time.sleep(0.3)
    text = browser.js("document.body.innerText")
    for name in HOSTILE[:2]:
        assert name in text  # shown as text
    assert "</script><script>alert(2)</script>" in text
    assert (
        browser.js("document.querySelectorAll('img, b, main script, svg svg[onload]').length") == 0
    )
    assert browser.js("document.querySelectorAll('script').length") == 2
    assert (
        browser.js(
            "Array.from(document.querySelectorAll('*')).some(e =>"
            " Array.from(e.attributes).some(a => a.name.startsWith('on')))"
        )
        is False
    )
    problems = _problems(browser.drain())
    assert problems.pop("pages") == [page.as_uri()]
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}


LONG_NAMES = [
    "va_long_beach|female",
    "Asian-Pac-Islander|Male",
    "Amer-Indian-Eskimo|Female",
    "White|Male",
    "Black|Female",
    "switzerland|female",
    "Other|Male",
]


def test_cards_and_sentences_match_the_tables(browser: Browser, tmp_path: Path) -> None:
    """What the cards and sentences say is read off the page and checked against the
    page's own tables, as a reader would."""
    results = make_results(n_models=12, group_names=LONG_NAMES, seed=2)
    page = write_report(results, tmp_path / "report.html")
    browser.open(page.as_uri())
    rows = browser.js(
        "Array.from(document.querySelectorAll('#group-table tbody tr')).map(tr => ["
        "tr.querySelector('td.name').dataset.v, +tr.cells[1].dataset.v, "
        "tr.cells[4].firstChild.textContent.trim(), parseFloat(tr.cells[4].dataset.v), "
        "tr.querySelector('td.change').dataset.verdict, "
        "tr.querySelector('td.name .badge') !== null])"
    )
    assert len(rows) == len(LONG_NAMES)
    threshold = results["small_group_threshold"]
    assert all(small == (n < threshold) for _, n, _, _, _, small in rows)
    text = " ".join(browser.js("document.getElementById('recommendation').innerText").split())
    # the worst-off group of the card is the table's lowest among groups with enough rows
    big = [r for r in rows if not r[5]] or rows
    name, _, shown, _, _, _ = min(big, key=lambda r: r[3])
    card = " ".join(browser.js("document.getElementById('kpi-worst').innerText").split())
    assert card.startswith(shown) and name in card
    # "N groups are worse off" counts the table's "worse" cells
    worse = sum(r[4] == "worse" for r in rows)
    stated = "No group is worse off" if worse == 0 else f"{worse} group"
    assert stated in text
    noise = sum(r[4] == "within noise" for r in rows)
    if worse == 0 and noise:
        assert f"({noise} change{'s' if noise != 1 else ''} within noise)" in text
    assert (
        f"{sum(r[5] for r in rows)} of {len(rows)} groups have fewer than {threshold} test rows"
        in (text)
    )
    gains = " ".join(browser.js("document.getElementById('gains').innerText").split())
    assert f"{worse} group{'s are' if worse != 1 else ' is'} worse off" in gains
    # the overall figure and its change: against the frontier table and the plot's data
    data = browser.js("JSON.parse(document.getElementById('fairmtl-data').textContent)")
    test = {m["id"]: {s["name"]: s["test"] for s in m["scores"]} for m in data["models"]}
    overall = browser.js("document.querySelector('#kpi-overall .kpi-value').textContent")
    assert overall == test[results["chosen"]]["overall_accuracy"]
    chosen_row = browser.js(
        "Array.from(document.querySelectorAll('#frontier-table tbody tr'))"
        ".filter(tr => tr.querySelector('.badge.chosen'))[0].cells[1].textContent"
    )
    assert chosen_row == overall
    delta = browser.js("document.getElementById('kpi-delta-overall').textContent")
    mine, pooled = (
        float(test[i]["overall_accuracy"].rstrip("%")) for i in (results["chosen"], "pooled")
    )
    assert float(delta.replace("\u2212", "-").split()[0]) == pytest.approx(mine - pooled, abs=0.11)


def test_layout_at_1280_px(browser: Browser, tmp_path: Path) -> None:
    """Names break only at separators, the per-group table needs no scrolling, the
    plot's tags never overlap, and "Show all" brings every model into view."""
    results = make_results(n_models=14, group_names=LONG_NAMES, seed=4)
    for m in results["models"][1:3]:  # two poor baselines far from the frontier
        m["scores"]["worst_group_accuracy"] = 0.1
        m["scores"]["overall_accuracy"] = 0.3
        m["pareto"] = False
    page = write_report(results, tmp_path / "report.html")
    browser.open(page.as_uri())
    assert browser.js("window.innerWidth") == 1280
    assert browser.js(
        "Array.from(document.querySelectorAll('.gname .nb'))"
        ".every(s => s.getClientRects().length === 1)"
    ), "a group name broke inside a piece"
    assert browser.js(
        "(() => { const d = document.getElementById('group-table').parentElement;"
        "return d.scrollWidth <= d.clientWidth + 1; })()"
    ), "the per-group table scrolls at 1280 px"
    boxes = browser.js(
        "Array.from(document.querySelectorAll('#frontier-svg text.tag'))"
        ".filter(t => !t.classList.contains('outside') && !t.classList.contains('missing'))"
        ".map(t => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), boxes
    visible = (
        "document.querySelectorAll('#markers [data-model-id]:not(.outside):not(.missing)').length"
    )
    assert browser.js(visible) < len(results["models"])  # the poor ones are out of view
    assert "outside it" in browser.js("document.getElementById('outside-note').textContent")
    browser.js("document.getElementById('view-toggle').click()")
    assert browser.js(visible) == len(results["models"])
    browser.js("document.getElementById('view-toggle').click()")
    assert browser.js(visible) < len(results["models"])
    problems = _problems(browser.drain())
    assert problems["exceptions"] == [] and problems["console"] == []
