"""Benchmark scale-out: two app servers on two ports sharing one PostgreSQL, each with its own
reminder sender (the embedded scheduler), while phones sync to both; prints what was sent and
received, duplicates and losses. No assertions.

Usage:
    python bench/bench_scaleout.py [--devices 200] [--records 2000] [--senders-every 1]
                                   [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

A scratch database is seeded with the demo town; every open case with a hearing or eviction
date in the next 14 days gets a reminder due now (offsets 1-5, 7, 10 and 14 days, no quiet
hours), and `--devices` subscriptions of the demo workers and lead point at a push service on
127.0.0.1 (the tests' own, which checks VAPID and decrypts every message). Both servers send
reminders every `--senders-every` seconds; meanwhile `--records` visit records go to /sync,
each batch sent to one server and replayed to the other, as a phone whose connection moved
might.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.bench_load import (  # noqa: E402
    drop_database,
    free_port,
    log_in,
    scratch_database,
    server_env,
    wait_for,
)
from tests.pushservice import PushService  # noqa: E402


def add_subscriptions(database_url: str, service: PushService, key: str, count: int) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        people = [
            row[0]
            for row in connection.execute(
                text("select id from user_account where role in ('worker', 'lead') order by id")
            )
        ]
        connection.execute(
            text("update organisation set reminder_offsets = :offsets,"
                 " quiet_hours_start = '00:00:00', quiet_hours_end = '00:00:00'"),
            {"offsets": "1,2,3,4,5,7,10,14"},
        )  # fmt: skip
        for n in range(count):
            device = service.subscribe(key)
            body = device.to_json()
            connection.execute(
                text(
                    "insert into push_subscription (user_id, endpoint, endpoint_hash, p256dh,"
                    " auth, language, device, created_at) values (:user, :endpoint, :hash,"
                    " :p256dh, :auth, 'en', 'bench', now())"
                ),
                {
                    "user": people[n % len(people)],
                    "endpoint": body["endpoint"],
                    "hash": uuid.uuid4().hex + uuid.uuid4().hex,
                    "p256dh": body["keys"]["p256dh"],
                    "auth": body["keys"]["auth"],
                },
            )
    engine.dispose()


def sync_traffic(bases: list[str], records: int, results: Counter) -> None:
    """Send visits in batches of 10 to one server, then replay each batch to the other."""
    sessions = [log_in(base, "worker@example.org") for base in bases]
    today = sessions[0].get(f"{bases[0]}/today").text
    import re

    cases = [int(c) for c in re.findall(r'data-offline-url="/field/cases/(\d+)"', today)]
    outbox = [
        {
            "uuid": str(uuid.uuid4()),
            "type": "visit",
            "case_id": cases[n % len(cases)],
            "recorded_at": "2026-11-23T10:00:00+01:00",
            "data": {"channel": "door", "result": "not_home", "notes": ""},
        }
        for n in range(records)
    ]
    for start in range(0, records, 10):
        batch = outbox[start : start + 10]
        for n, (base, session) in enumerate(
            [(bases[(start // 10) % 2], sessions[(start // 10) % 2]),
             (bases[(start // 10 + 1) % 2], sessions[(start // 10 + 1) % 2])]
        ):  # fmt: skip
            headers = {"X-Doorstep-Sync": "1", "Origin": base}
            answer = session.post(f"{base}/sync", json={"records": batch}, headers=headers)
            for result in answer.json()["results"]:
                results[("first" if n == 0 else "replay", result["status"])] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--senders-every", type=float, default=1.0)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="doorstep-scale-"))
    name, url = scratch_database(args.postgres)
    service = PushService().start()
    env = {
        **server_env(url, folder),
        "FIELDAPP_VAPID_SUBJECT": "mailto:bench@example.org",
        "FIELDAPP_PUSH_SERVICES": "http://127.0.0.1:*",
        "FIELDAPP_PUSH_SCHEDULER_SECONDS": str(args.senders_every),
    }
    servers: list[subprocess.Popen] = []
    try:
        subprocess.run(
            [sys.executable, "-m", "fieldapp.cli", "demo", "--no-serve"],
            env=env, check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip
        key = subprocess.run(
            [sys.executable, "-m", "fieldapp.cli", "vapid-keys"],
            env=env, check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout.split("applicationServerKey): ")[1].split()[0]  # fmt: skip
        add_subscriptions(url, service, key, args.devices)
        ports = [free_port(), free_port()]
        started = time.monotonic()
        for port in ports:
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "fieldapp.cli", "run", "--port", str(port)],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            )
        for port, process in zip(ports, servers, strict=True):
            wait_for(port, process)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        sync_results: Counter = Counter()
        syncing = threading.Thread(target=sync_traffic, args=(bases, args.records, sync_results))
        sync_started = time.monotonic()
        syncing.start()
        engine = create_engine(url)
        deadline = time.monotonic() + 600
        drained_at = None
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                open_rows, total = connection.execute(
                    text("select count(*) filter (where state in ('pending', 'retrying')),"
                         " count(*) from push_delivery")
                ).one()  # fmt: skip
            if total and not open_rows:
                drained_at = time.monotonic()
                break
            time.sleep(0.2)
        syncing.join()
        sync_seconds = time.monotonic() - sync_started
        with engine.connect() as connection:
            reminders = connection.execute(text("select count(*) from reminder")).scalar()
            states = dict(
                connection.execute(
                    text("select state, count(*) from push_delivery group by state")
                ).all()
            )
            visits = connection.execute(
                text("select count(*) from visit where notes = ''")
            ).scalar()
        engine.dispose()
    finally:
        for process in servers:
            process.terminate()
            process.wait(30)
        service.stop()
        drop_database(args.postgres, name)

    received = Counter((d.token, d.topic) for d in service.accepted)
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    sent = states.get("sent", 0)
    print(f"\nTwo app servers (ports {ports[0]}, {ports[1]}), one PostgreSQL, a sender on each:")
    print(
        f"  reminders {reminders}, deliveries {sum(states.values())} ({states}); "
        f"received by the push service {len(service.accepted)}, distinct {len(received)}, "
        f"duplicates {duplicates}, lost {sent - len(received)}; "
        f"all sent {drained_at - started:.1f} s after the servers started"
        if drained_at
        else "  deliveries did not drain within 600 s"
    )
    first = {k[1]: v for k, v in sync_results.items() if k[0] == "first"}
    replay = {k[1]: v for k, v in sync_results.items() if k[0] == "replay"}
    print(
        f"  sync: {args.records} records, each sent to one server and replayed to the other, "
        f"in {sync_seconds:.1f} s; first sends {first}, replays {replay}; "
        f"visits stored {visits} (expected {args.records})"
    )


if __name__ == "__main__":
    main()
