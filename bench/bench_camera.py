"""The validator as a device: camera decode rates, frame to decision, start-up and memory.

    .venv/bin/python bench/bench_camera.py [--seeds 50] [--frames 600] [--dir /path]

1. Decode rate per condition: a vexe QR as the rider's phone shows it, photographed as a
   cheap camera sees it (tests/validator/camera_frames.py), ``--seeds`` frames a condition.
2. Frame to decision: from a frame in memory to the journaled decision, for frames of every
   condition that decode: the QR search (zxing-cpp, region of interest, then the whole
   frame) plus ``Validator.scan`` (check and the fsync'd journal write). In the same run,
   each part alone: the search on frames with a QR, the search on empty frames (the whole
   frame is searched in vain), and ``Validator.scan``.
3. Start-up: ``python -m validator run --config FILE`` (and ``vexe validator run``) from
   exec to systemd's READY=1 on a notify socket, and to the first answer of GET /healthz.
4. Memory: resident set of the running process after start-up and after 1,000 scans over
   HTTP and 300 camera frames.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "validator")]

import camera_frames as frames  # noqa: E402
from validator_testkit import Issuer  # noqa: E402

from shared import clock  # noqa: E402
from validator.camera import QRFinder  # noqa: E402
from validator.device import Validator  # noqa: E402
from validator.http import CLIENT_HEADER  # noqa: E402


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name, ms):
    return (f"| {name} | {pct(ms, 50):.2f} | {pct(ms, 90):.2f} | {pct(ms, 99):.2f} | "
            f"{max(ms):.2f} |")


def decode_rates(seeds):
    qr = frames.golden_qr()  # the camera test's QR: the same modules, comparable rates
    screen = frames.phone_screen(qr)
    print("| Condition | Frames | Decoded | Rate |\n|---|---|---|---|")
    for condition in frames.CONDITIONS:
        found = 0
        for seed in range(seeds):
            shot = frames.shot(condition, 1000 + seed)
            found += QRFinder(*shot.camera).find(frames.photograph(screen, shot)) == qr
        print(f"| {condition} | {seeds} | {found} | {found / seeds:.0%} |")


def frame_to_decision(issuer, count, data_dir):
    conditions = [c for c in frames.CONDITIONS if c not in ("heavy blur", "glare")]
    validator = Validator(validator_id="B1", vehicle="29B-1", route="32", data_dir=data_dir,
                          passback=0)
    validator.lists.update_trust(issuer.trust.dumps())
    now = clock.now()
    work = []  # (frame, size) with a fresh pass in each: every decision is an acceptance
    for n in range(count):
        shot = frames.shot(conditions[n % len(conditions)], n)
        work.append((frames.photograph(frames.phone_screen(issuer.rider(now=now).qr(now)), shot),
                     shot.camera))
    empty = [frames.blank(seed=n) for n in range(200)]
    finders = {size: QRFinder(*size) for size in {size for _, size in work}}
    full, search, scan = [], [], []
    accepted = 0
    for frame, size in work:
        start = time.perf_counter()
        text = finders[size].find(frame)
        found = time.perf_counter()
        if text is None:
            continue
        result = validator.scan(text, now)
        done = time.perf_counter()
        accepted += result.accepted
        full.append((done - start) * 1000)
        search.append((found - start) * 1000)
        scan.append((done - found) * 1000)
    nothing = []
    finder = QRFinder(640, 480)
    for frame in empty:
        start = time.perf_counter()
        finder.find(frame)
        nothing.append((time.perf_counter() - start) * 1000)
    validator.close()
    print(f"{len(work)} frames ({', '.join(conditions)}), {len(full)} decoded, "
          f"{accepted} accepted\n")
    print("| | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    print(row("QR search, frames with a QR", search))
    print(row("QR search, empty frames (640×480)", nothing))
    print(row("`Validator.scan` (check + journal fsync)", scan))
    print(row("**frame to decision**", full))


def start_and_memory(issuer, runs, base):
    config_dir = Path(tempfile.mkdtemp(dir=base))
    home = config_dir / "validator-S1"
    home.mkdir()
    (home / "trust.json").write_text(issuer.trust.dumps())
    fifo = config_dir / "camera"
    os.mkfifo(fifo)
    results = {}
    for label, command in [("python -m validator run", [sys.executable, "-m", "validator"]),
                           ("vexe validator run", [str(Path(sys.executable).parent / "vexe"),
                                                   "validator"])]:
        ready, healthy, rss = [], [], []
        for _ in range(runs):
            port = _free_port()
            config = config_dir / "validator.toml"
            config.write_text(f'[validator]\nid = "S1"\nvehicle = "29B-1"\ndata_dir = "{config_dir}"\n'
                              f'[position]\nroute = "32"\n[redis]\nurl = "redis://127.0.0.1:6379/0"\n'
                              f'[http]\nport = {port}\n[input]\nscanner = "none"\n'
                              f'camera = "{fifo}"\n')
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            address = str(config_dir / "notify")
            if os.path.exists(address):
                os.unlink(address)
            notify.bind(address)
            notify.settimeout(10)
            start = time.perf_counter()
            proc = subprocess.Popen([*command, "run", "--config", str(config)],
                                    env={**os.environ, "NOTIFY_SOCKET": address},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while notify.recv(256) != b"READY=1":
                pass
            ready.append(time.perf_counter() - start)
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.005)
            healthy.append(time.perf_counter() - start)
            rss.append(_rss(proc.pid))
            notify.close()
            if label.startswith("python") and len(ready) == runs:
                results["after"] = _load(proc.pid, port, issuer, fifo)
            proc.terminate()
            proc.wait(30)
        results[label] = (ready, healthy, rss)
    print("| Command | to READY=1, median s | max s | to first /healthz, median s | "
          "resident after start, MB |\n|---|---|---|---|---|")
    for label in ("python -m validator run", "vexe validator run"):
        ready, healthy, rss = results[label]
        print(f"| `{label}` | {statistics.median(ready):.3f} | {max(ready):.3f} | "
              f"{statistics.median(healthy):.3f} | {max(rss):.1f} |")
    print(f"\nResident after 1,000 HTTP scans and 300 camera frames (`python -m validator`): "
          f"**{results['after']:.1f} MB**")


def _load(pid, port, issuer, fifo):
    now = clock.now()
    qrs = [issuer.rider(now=now).qr(now) for _ in range(200)]
    for n in range(1000):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/scan",
                                         data=json.dumps({"qr": qrs[n % len(qrs)]}).encode(),
                                         headers={CLIENT_HEADER: "bench"})
        urllib.request.urlopen(request, timeout=10).read()
    screen = frames.phone_screen(qrs[0])
    shots = [frames.photograph(screen, frames.shot("straight", n)) for n in range(10)]
    with open(fifo, "wb") as camera:
        for n in range(300):
            camera.write(shots[n % 10] if n % 3 else frames.blank(seed=n))
    time.sleep(1.0)
    return _rss(pid)


def _rss(pid) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", default=None, help="where the journal goes (the device's disk)")
    args = parser.parse_args()
    issuer = Issuer()
    print("## Decode rate per condition\n")
    decode_rates(args.seeds)
    with tempfile.TemporaryDirectory(dir=args.dir) as base:
        print("\n## Frame to decision\n")
        frame_to_decision(issuer, args.frames, Path(base) / "fd")
        print("\n## Start-up and memory\n")
        start_and_memory(issuer, args.runs, base)


if __name__ == "__main__":
    main()
