"""Load test of ``toonforge serve`` on loopback: throughput and latency percentiles, batching on
and off, and a soak that samples the server's memory.

    python benchmarks/bench_serve.py [--requests 200] [--concurrency 1 4 16] [--soak-seconds 120]

For each setting (``--batch-size 8`` = batching on, ``--batch-size 1`` = off) a server process
is started on 127.0.0.1 with the given style and the dlib detector; a bounded client loop sends
``--requests`` POST /v1/stylize requests of one real portrait (../shared/data/faces/scut, or
``--image``) at each concurrency over keep-alive connections and reports requests/s and
p50/p95/p99 latency. The ratio column is the throughput against batching off at the same
concurrency, measured in the same run (absolute times move with the machine's load). The soak
keeps the highest concurrency going with batching on for ``--soak-seconds`` and prints the
server's resident memory every ``--soak-every`` seconds: flat memory means no leak per request.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "scut" / "AF1554.jpg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, batch_size: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "toonforge", "serve", "--port", str(port), "--style", args.style, "--quiet",
           "--batch-size", str(batch_size), "--batch-window-ms", str(args.window_ms),
           "--concurrency", str(args.server_concurrency), "--max-queue", "256"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-500:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become ready in 120 s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(port: int, body: bytes, n: int, concurrency: int, stop_at: float | None = None) -> tuple[list[float], float]:
    """Send ``n`` requests (or until ``stop_at``) from ``concurrency`` threads; (latencies, wall seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()
    left = [n]
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if (stop_at is None and left[0] <= 0) or (stop_at is not None and time.monotonic() >= stop_at):
                    return
                left[0] -= 1
            t0 = time.perf_counter()
            conn.request("POST", "/v1/stylize", body, {"Content-Type": "image/jpeg"})
            r = conn.getresponse()
            r.read()
            dt = time.perf_counter() - t0
            with lock:
                if r.status != 200:
                    errors.append(str(r.status))
                latencies.append(dt)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. status {errors[0]}")
    return latencies, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", type=Path, default=DEFAULT_PHOTO, help="the portrait every request sends")
    ap.add_argument("--style", default="classic", help="style served")
    ap.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16], help="client concurrency levels")
    ap.add_argument("--batch-size", type=int, default=8, help="the server's --batch-size with batching on")
    ap.add_argument("--window-ms", type=float, default=5.0, help="the server's --batch-window-ms")
    ap.add_argument("--server-concurrency", type=int, default=4, help="the server's --concurrency")
    ap.add_argument("--threads", type=int, default=None, help="the server's --threads")
    ap.add_argument("--soak-seconds", type=float, default=120.0, help="soak length (0: none)")
    ap.add_argument("--soak-every", type=float, default=15.0, help="seconds between memory samples")
    args = ap.parse_args()
    if not args.image.is_file():
        raise SystemExit(f"no image at {args.image} (give --image)")
    body = args.image.read_bytes()
    results: dict[tuple[str, int], tuple[float, float, float, float]] = {}
    for mode, batch in (("off", 1), ("on", args.batch_size)):
        proc, port = start_server(args, batch)
        try:
            load(port, body, 8, 2)  # warm-up: sessions, detector, allocator
            for c in args.concurrency:
                lat, wall = load(port, body, args.requests, c)
                results[(mode, c)] = (len(lat) / wall, pct(lat, 50), pct(lat, 95), pct(lat, 99))
                print(f"batching {mode:>3}  concurrency {c:>3}: {results[(mode, c)][0]:6.1f} req/s", flush=True)
            if mode == "on" and args.soak_seconds > 0:
                c = max(args.concurrency)
                print(f"\nsoak: concurrency {c}, batching on, {args.soak_seconds:.0f} s; server RSS:")
                start, samples, served = time.monotonic(), [], 0
                while time.monotonic() - start < args.soak_seconds:
                    lat, _ = load(port, body, 0, c, stop_at=time.monotonic() + args.soak_every)
                    served += len(lat)
                    samples.append(rss_mib(proc.pid))
                    print(f"  t={time.monotonic() - start:5.0f} s  requests={served:6d}  RSS={samples[-1]:7.1f} MiB",
                          flush=True)
                if len(samples) > 2:
                    print(f"  RSS after the first sample: min {min(samples[1:]):.1f}, max {max(samples[1:]):.1f} MiB "
                          f"(growth {samples[-1] - samples[1]:+.1f} MiB over {served} requests)")
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"\n{args.requests} requests per row, image {args.image.name}, style {args.style}, "
          f"server --concurrency {args.server_concurrency}, batch window {args.window_ms} ms, {os.cpu_count()} CPUs")
    print("| batching | concurrency | req/s | vs off | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for (mode, c), (tput, p50, p95, p99) in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0] != "off")):
        ratio = tput / results[("off", c)][0]
        print(f"| {mode} (--batch-size {1 if mode == 'off' else args.batch_size}) | {c} | {tput:.1f} | {ratio:.2f}x | "
              f"{p50 * 1e3:.0f} | {p95 * 1e3:.0f} | {p99 * 1e3:.0f} |")


if __name__ == "__main__":
    main()
