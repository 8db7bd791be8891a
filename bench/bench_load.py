"""Benchmark the server under load: gunicorn with several workers on PostgreSQL, simulated
outreach workers (open today's route, open case cards, sync visits) and leads (dashboard, case
list with filters, case pages) for a while; prints p50/p95/p99 latency per kind of request,
requests per second and errors. No assertions.

Usage:
    python bench/bench_load.py [--users 50] [--leads 10] [--duration 300] [--workers 4]
                               [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

A scratch database is created on the server, seeded with the demo town (`fieldapp demo
--no-serve`) and dropped afterwards. Users think 1 s (± 0.5 s) between requests, as a person
tapping through pages does; the load generator runs in this process with one thread per user.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
WORKERS = ("worker@example.org", "worker2@example.org", "worker3@example.org")
LEAD = "lead@example.org"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_database(admin_url: str) -> tuple[str, str]:
    name = f"doorstep_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def server_env(database_url: str, folder: Path) -> dict:
    return {
        **os.environ,
        "FIELDAPP_DATABASE_URL": database_url,
        "FIELDAPP_SECRET_KEY": "bench-secret",
        "FIELDAPP_COOKIE_SECURE": "false",
        "FIELDAPP_VAPID_PRIVATE_KEY": str(folder / "vapid_private.pem"),
        "FIELDAPP_PUSH_SCHEDULER_SECONDS": "0",
    }


def wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Stats:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def timed(self, kind: str, call):
        started = time.perf_counter()
        try:
            response = call()
            ok = response.status_code < 400
        except requests.RequestException:
            response, ok = None, False
        elapsed = time.perf_counter() - started
        with self.lock:
            self.times[kind].append(elapsed)
            if not ok:
                self.errors[kind] += 1
        return response


def log_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(f"{base}/login", data={"email": email, "password": "demo", "csrf_token": token})
    return session


def worker_user(base: str, email: str, stats: Stats, until: float, rng: random.Random) -> None:
    session = log_in(base, email)
    headers = {"X-Doorstep-Sync": "1", "Origin": base}
    while time.monotonic() < until:
        today = stats.timed("today", lambda: session.get(f"{base}/today"))
        cards = re.findall(r'data-offline-url="(/field/cases/\d+)"', today.text if today else "")
        if cards:
            card = rng.choice(cards)
            stats.timed("case card", lambda card=card: session.get(f"{base}{card}"))
            record = {
                "uuid": str(uuid.uuid4()),
                "type": "visit",
                "case_id": int(card.rsplit("/", 1)[1]),
                "recorded_at": "2026-11-23T10:00:00+01:00",
                "data": {"channel": "door", "result": "not_home", "notes": ""},
            }
            body = {"records": [record]}
            stats.timed(
                "sync",
                lambda body=body: session.post(f"{base}/sync", json=body, headers=headers),
            )
        time.sleep(rng.uniform(0.5, 1.5))


def lead_user(base: str, stats: Stats, until: float, rng: random.Random) -> None:
    session = log_in(base, LEAD)
    while time.monotonic() < until:
        stats.timed("dashboard", lambda: session.get(f"{base}/dashboard"))
        page = stats.timed("case list", lambda: session.get(f"{base}/cases"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text if page else "")
        if token:
            form = {"csrf_token": token.group(1), "status": "new", "sort": "priority"}
            stats.timed(
                "case list filtered", lambda form=form: session.post(f"{base}/cases", data=form)
            )
        ids = re.findall(r'href="/cases/(\d+)"', page.text if page else "")
        if ids:
            case = rng.choice(ids)
            stats.timed("case page", lambda case=case: session.get(f"{base}/cases/{case}"))
        time.sleep(rng.uniform(0.5, 1.5))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated people in all")
    parser.add_argument("--leads", type=int, default=10, help="of them, leads")
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="doorstep-load-"))
    name, url = scratch_database(args.postgres)
    env = server_env(url, folder)
    port = free_port()
    server = None
    try:
        subprocess.run(
            [sys.executable, "-m", "fieldapp.cli", "demo", "--no-serve"],
            env=env, check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--workers", str(args.workers),
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "fieldapp:create_app()",
            ],
            env=env, cwd=ROOT,
        )  # fmt: skip
        wait_for(port, server)
        base = f"http://127.0.0.1:{port}"
        stats = Stats()
        until = time.monotonic() + args.duration
        threads = []
        for n in range(args.users):
            rng = random.Random(n)
            if n < args.leads:
                target, params = lead_user, (base, stats, until, rng)
            else:
                target, params = worker_user, (base, WORKERS[n % 3], stats, until, rng)
            threads.append(threading.Thread(target=target, args=params, daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
            time.sleep(0.02)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        drop_database(args.postgres, name)

    total = sum(len(v) for v in stats.times.values())
    print(
        f"\n{args.users} users ({args.leads} leads) for {elapsed:.0f} s against gunicorn "
        f"-w {args.workers} on PostgreSQL: {total} requests, {total / elapsed:.1f} req/s, "
        f"{sum(stats.errors.values())} errors"
    )
    print(f"  {'request':<20} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    pages: list[float] = []
    for kind, values in sorted(stats.times.items()):
        if kind != "sync":
            pages += values
        print(
            f"  {kind:<20} {len(values):>6} {statistics.median(values) * 1000:>7.0f} "
            f"{percentile(values, 0.95) * 1000:>7.0f} {percentile(values, 0.99) * 1000:>7.0f} "
            f"{stats.errors.get(kind, 0):>6}"
        )
    print(f"  page views p95: {percentile(pages, 0.95) * 1000:.0f} ms (goal 100 ms)")


if __name__ == "__main__":
    main()
