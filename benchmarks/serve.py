"""`fmnist serve` under load: a real server on loopback, a fixed number of uploads from a fixed
number of clients, predictions alone and then with the map, and how long the page takes meanwhile.

    python benchmarks/serve.py                         # 200 uploads from 8 clients, each way
    python benchmarks/serve.py --server-src OLD/src --label before   # another checkout's server

The server is `python -m fmnist serve RUN` in a fresh process, as a user starts it; with
``--server-src`` it imports fmnist from another checkout (the clients and the record stay this
one's). Each client is a thread with one keep-alive connection that posts product-style photos (the
first test images made into studio shots by ``fmnist.data.photos.studio_shots``, JPEG, a different
one per client), then the same test images as 28x28 PNGs, one after the other, until
the fixed number of uploads has been sent; a phase stops early at ``--phase-limit`` seconds and
the record says how many were answered. Meanwhile another thread asks for the page (`GET /`) every
``PAGE_EVERY_S`` on a new connection. Every answer is checked (200, three classes, a map exactly
when asked for).

The CPU's kind, its model, torch's version and the load average before each phase are recorded (the
machine may be shared); writes benchmarks/results/serve-<date>-cpu-<kind>[-<label>].json.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import fmnist
from fmnist.data.photos import studio_shots
from fmnist.data.sources import load_arrays
from fmnist.training.hardware import cpu_features
from speed import ROOT, slug

DEFAULT_RUN = ROOT / "results" / "robustness" / "runs" / "fast" / "seed0"
PAGE_EVERY_S = 0.05  # how often the page is asked for during the load
REQUEST_TIMEOUT_S = 120  # one answer; the old server took 3.5 s an upload alone
START_TIMEOUT_S = 120


# -- Setup ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, src: Path) -> subprocess.Popen:
    """`fmnist serve RUN` on 127.0.0.1:PORT, fmnist imported from ``src``, once it answers the
    page."""
    cmd = [sys.executable, "-m", "fmnist", "serve", str(run), "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    server = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"fmnist serve stopped: {server.stderr.read()[-2000:]}")
        try:
            get_page(port)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"fmnist serve did not answer within {START_TIMEOUT_S} s")


def uploads(clients: int) -> dict[str, list[tuple[str, bytes]]]:
    """One upload per client in each set: the first test images as product photos (JPEG studio
    shots, 152 to 830 pixels a side: preparing them is most of an answer's work) and as they are
    (28x28 PNGs: what is left is the server's own work)."""
    images = load_arrays()[0]["test_images"][:clients]
    return {
        "photos": [("photo.jpg", encode(shot, "JPEG")) for shot in studio_shots(images)],
        "28x28": [("image.png", encode(Image.fromarray(image), "PNG")) for image in images],
    }


def encode(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, quality=90)
    return buffer.getvalue()


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    """The body and content type of a form upload of ``data`` as the field ``file``."""
    boundary = "fmnist-bench-boundary"
    kind = "image/png" if name.endswith(".png") else "image/jpeg"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {kind}\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


# -- Load -----------------------------------------------------------------------------------------
def get_page(port: int) -> float:
    """Seconds until the page has been read, on a new connection."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and b"<html" in response.read()
    finally:
        connection.close()
    return time.perf_counter() - start


def client(
    port: int, upload: tuple[str, bytes], path: str, tickets: Tickets, seconds: list[float]
) -> None:
    """Post ``upload`` (name, bytes) until no ticket is left; each answer's seconds go to
    ``seconds``, a wrong answer or a lost connection to ``tickets.errors`` (and this client
    stops)."""
    body, content_type = multipart(*upload)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        while tickets.take():
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": content_type})
            response = connection.getresponse()
            answer = json.loads(response.read())
            seconds.append(time.perf_counter() - start)
            check(response.status, answer, with_map="map=1" in path)
    except (AssertionError, OSError, ValueError) as exc:
        tickets.errors.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()


def check(status: int, answer: dict, with_map: bool) -> None:
    """An answer is right: 200, three classes, and a map exactly when asked for (the server
    before maps were asked for drew one always, so a map is only required, not refused, there)."""
    assert status == 200, answer
    assert len(answer["top"]) == 3, answer
    if with_map:
        assert answer["map_png"].startswith("data:image/png;base64,"), "no map"


class Tickets:
    """The uploads left to send, shared by the clients; none once the phase's time is up."""

    def __init__(self, count: int, seconds: float) -> None:
        self.left, self.deadline, self.lock = count, time.monotonic() + seconds, threading.Lock()
        self.errors: list[str] = []

    def take(self) -> bool:
        with self.lock:
            if self.left == 0 or time.monotonic() > self.deadline:
                return False
            self.left -= 1
            return True


def phase(
    port: int, files: list[tuple[str, bytes]], path: str, requests: int, limit_s: float
) -> dict:
    """``requests`` uploads to ``path`` from one client per file, and the page's answer times
    meanwhile."""
    seconds: list[float] = []
    tickets = Tickets(requests, limit_s)
    threads = [
        threading.Thread(target=client, args=(port, upload, path, tickets, seconds))
        for upload in files
    ]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    page = []
    while any(thread.is_alive() for thread in threads):
        page.append(get_page(port))
        time.sleep(PAGE_EVERY_S)
    wall = time.perf_counter() - start
    for thread in threads:
        thread.join()
    if tickets.errors:
        sys.exit(f"{path}: {len(tickets.errors)} client(s) stopped; the first: {tickets.errors[0]}")
    return summary(seconds, page, wall, requests, load_before)


def summary(seconds: list[float], page: list[float], wall: float, asked: int, load: float) -> dict:
    ms = 1000 * np.asarray(seconds)
    return {
        "requests": asked,
        "answered": len(seconds),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(seconds) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "page_requests": len(page),
        "page_p50_ms": round(1000 * float(np.median(page)), 1),
        "page_worst_ms": round(1000 * max(page), 1),
        "load_average_1min_before": round(load, 2),
    }


# -- Record ---------------------------------------------------------------------------------------
def source(src: Path) -> dict:
    """Which fmnist served: its folder and that checkout's commit."""
    folder = (src / "fmnist").resolve()
    git = ["git", "-C", str(folder)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "serve.py", "explain.py"],
        capture_output=True,
        text=True,
    )
    return {
        "fmnist": str(folder),
        "commit": commit.stdout.strip(),
        "serve_changed_since_commit": bool(dirty.stdout.strip()),
    }


def table(record: dict) -> str:
    rows = [
        "| uploads | answered | requests/s | p50 ms | p99 ms | page worst ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in record["phases"].items():
        rows.append(
            f"| {name} | {r['answered']}/{r['requests']} | {r['requests_per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} | {r['page_worst_ms']} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=DEFAULT_RUN, help="A finished run.")
    parser.add_argument("--requests", type=int, default=200, help="Uploads per phase.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--phase-limit", type=float, default=300, help="Seconds a phase may take.")
    parser.add_argument("--label", default="", help="A suffix for the record's file name.")
    parser.add_argument(
        "--server-src",
        type=Path,
        default=Path(fmnist.__file__).resolve().parents[1],
        help="The src folder the server imports fmnist from (default: this one's).",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    sets = uploads(args.clients)
    port = free_port()
    server = start_server(args.run, port, args.server_src)
    try:
        for files in sets.values():  # workers started and every code path run once
            phase(port, files, "/api/predict?map=1", len(files), args.phase_limit)
        phases = {
            f"{name}, {what}": phase(port, files, path, args.requests, args.phase_limit)
            for name, files in sets.items()
            for what, path in (("predictions", "/api/predict"), ("with map", "/api/predict?map=1"))
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    cpu = cpu_features()
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "torch": torch.__version__,
        "source": source(args.server_src),
        "run": os.path.relpath(args.run.resolve(), ROOT),
        "clients": args.clients,
        "upload_mean_bytes": {k: int(np.mean([len(f[1]) for f in v])) for k, v in sets.items()},
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "phases": phases,
    }  # fmt: skip
    print(f"{cpu['model']} ({cpu['kind']}, {cpu['cores']} cores), torch {torch.__version__}, "
          f"{args.clients} clients, fmnist {record['source']['commit']}")  # fmt: skip
    print(table(record))
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f"-{args.label}" if args.label else ""
    path = args.out / f"serve-{record['date']}-cpu-{slug(cpu['kind'])}{suffix}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
