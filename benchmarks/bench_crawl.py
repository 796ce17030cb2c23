"""[C] Collection: crawl throughput against Little's law, and frontier memory.

1. Throughput. The `small` training range's largest site served with 1 s injected latency;
   one site profile at 64 requests in flight. Little's law caps the rate at
   L / W = 64 / 1 s = 64 pages/s (the peer figure). Reported: pages/s over the whole crawl
   (including the start, when the frontier holds fewer than 64 URLs) and in steady state
   (while at least 64 URLs were queued or in flight), each as a share of 64/s. Goal ≥ 90 %.
2. Memory. A frontier of 1,000,000 URLs in the crawler's SQLite state, against the naive
   peer (the same URLs in an in-memory set + deque), in fresh processes. Goal ≤ 500 MB RSS.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

IN_FLIGHT = 64
LATENCY = 1.0


def _crawl(root: Path, profile: Path, proxy: str, answers: dict[str, str]) -> dict[str, float]:
    """Crawl one profile, sampling the frontier; return pages and rates."""
    from spector.collect import CrawlOptions, start_crawl, state_for

    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    # Sample only the run this call starts: until start_crawl has created it (after its
    # proxy probe), the state's last run is the previous crawl, whose pages are all done.
    before = state_for(root)
    try:
        last = before.last_run()
    finally:
        before.close()
    previous = last["run_id"] if last else 0

    def watch() -> None:  # the stand-in human, and a sampler of the frontier
        state = state_for(root)
        try:
            while not stop.is_set():
                for c in state.pending_captchas():
                    digest = hashlib.sha256(Path(c["image_path"]).read_bytes()).hexdigest()
                    state.solve_captcha(c["id"], answers[digest])
                run = state.last_run()
                if run is None or run["run_id"] <= previous:
                    stop.wait(0.1)
                    continue
                row = state.db.execute(
                    "SELECT sum(status IN ('queued','active')), sum(status = 'done') FROM frontier "
                    "WHERE run_id = ?",
                    (run["run_id"],),
                ).fetchone()
                samples.append((time.monotonic(), int(row[0] or 0), int(row[1] or 0)))
                stop.wait(0.1)
        finally:
            state.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started = time.monotonic()
    start_crawl(root, [profile], proxy=proxy, options=CrawlOptions())
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()
    first = next(i for i, s in enumerate(samples) if s[2] > 0)
    overall = (samples[-1][2] - samples[first][2]) / (samples[-1][0] - samples[first][0])
    # steady state: pages are flowing (the login is over) and a full window is pending
    full = [s for s in samples[first:] if s[1] >= IN_FLIGHT]
    # pages arrive in waves of up to 64 a latency apart: fit a line, not two end points
    steady = statistics.linear_regression([t for t, _, _ in full], [d for _, _, d in full]).slope
    steady = steady if len(full) > 2 else 0.0
    window = full[-1][0] - full[0][0] if len(full) > 2 else 0.0
    return {
        "pages": samples[-1][2],
        "elapsed": elapsed,
        "overall": overall,
        "steady": steady,
        "window": window,
    }


def _throughput(tmp: Path) -> list[str]:
    import tomllib

    import tomli_w

    from spector.sim import generate
    from spector.store import Workspace

    truth = generate(7, "small", tmp / "range")
    market = max((m for m in truth["markets"] if m["close_day"] is None), key=lambda m: m["pages"])
    profile = tomllib.loads((tmp / "range" / market["profile"]).read_text())
    profile["site"]["concurrency"] = IN_FLIGHT
    first = tmp / "first.toml"
    first.write_text(tomli_w.dumps(profile))
    Workspace.init(tmp / "ws").close()
    root = tmp / "ws"
    # The range runs in its own process (as Tor and the sites would), on the other core.
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from spector.cli import run; run()",
            "sim",
            "serve",
            str(tmp / "range"),
            "--socks-port",
            "0",
            "--latency",
            str(LATENCY),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        proxy = server.stdout.readline().split()[-1]  # "ready socks5h://127.0.0.1:P"
        crawl = _crawl(root, first, proxy, truth["captchas"])
        # The recrawl (how markets are measured over time) starts from every page known.
        with Workspace.open(root) as ws:
            known = [
                r[0]
                for r in ws.store.con.execute(
                    "SELECT DISTINCT url FROM captures WHERE status = 200 "
                    "AND url NOT LIKE '%/login%' AND url NOT LIKE '%/captcha/%' "
                    "AND url NOT LIKE '%/calendar%' ORDER BY url"
                ).fetchall()
            ]
        profile["site"]["start_urls"] = known
        again = tmp / "again.toml"
        again.write_text(tomli_w.dumps(profile))
        recrawl = _crawl(root, again, proxy, truth["captchas"])
    finally:
        server.terminate()
        server.wait(30)
    limit = IN_FLIGHT / LATENCY
    return [
        f"site {market['name']} ({market['family']}, {market['pages']} pages), "
        f"{IN_FLIGHT} in flight, {LATENCY:.0f} s injected latency",
        f"peer: Little's law limit {limit:.0f} pages/s",
        f"first crawl (breadth-first from /, fewer than {IN_FLIGHT} URLs known early): "
        f"{crawl['pages']:.0f} pages in {crawl['elapsed']:.1f} s, {crawl['overall']:.1f} pages/s "
        f"= {crawl['overall'] / limit:.1%} of the limit",
        f"recrawl from the known URLs: {recrawl['pages']:.0f} pages in {recrawl['elapsed']:.1f} s; "
        f"steady state ({recrawl['window']:.1f} s with >= {IN_FLIGHT} URLs pending) "
        f"{recrawl['steady']:.1f} pages/s = {recrawl['steady'] / limit:.1%} of the limit "
        "(goal >= 90%)",
    ]


# VmHWM: this process's peak RSS (getrusage's ru_maxrss survives exec from the parent).
_PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
"""

_FRONTIER_SPECTOR = (
    _PEAK
    + """
import sys, time
from pathlib import Path
from spector.collect import CrawlState
state = CrawlState(Path(sys.argv[1]) / "collect.sqlite")
run = state.new_run("socks5h://127.0.0.1:9050", [], 0)
t = time.monotonic()
for start in range(0, 1_000_000, 50_000):
    state.enqueue(run, "site", [(f"http://example{n % 7}.onion/item/{n}?page={n % 13}", 3)
                                for n in range(start, start + 50_000)])
item = state.claim(run, "site")
assert item is not None
print(peak_mb(), round(time.monotonic() - t, 1))
"""
)

_FRONTIER_NAIVE = (
    _PEAK
    + """
import collections, time
t = time.monotonic()
seen, queue = set(), collections.deque()
for n in range(1_000_000):
    url = f"http://example{n % 7}.onion/item/{n}?page={n % 13}"
    seen.add(url)
    queue.append((url, 3))
print(peak_mb(), round(time.monotonic() - t, 1))
"""
)


def _memory(tmp: Path) -> list[str]:
    ours = subprocess.run(
        [sys.executable, "-c", _FRONTIER_SPECTOR, str(tmp)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    naive = subprocess.run(
        [sys.executable, "-c", _FRONTIER_NAIVE], capture_output=True, text=True, check=True
    ).stdout.split()
    rss, secs = int(ours[0]), ours[1]
    return [
        f"frontier of 1,000,000 URLs: Spector (SQLite) {rss} MB max RSS, filled in {secs} s "
        f"(goal <= 500 MB)",
        f"peer: in-memory set + deque {naive[0]} MB max RSS; ratio {int(naive[0]) / rss:.2f}x",
    ]


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        lines = _throughput(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        lines += _memory(Path(tmp))
    return lines


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
