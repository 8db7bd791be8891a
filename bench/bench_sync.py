"""Benchmark the sync endpoint: how fast the server applies outbox records, and what replays cost.

Usage:
    python bench/bench_sync.py [--records 500] [--batch 10] [--postgres URL]

A fresh migrated database (a SQLite file, or with --postgres a scratch database created and
dropped on that server) is seeded with the demo town; the demo worker's session posts N visit
records to /sync through the Flask test client in batches, as the phone's outbox does, then
replays every batch. Prints records per second for first sends and for replays. No assertions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldapp import create_app  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Case, User  # noqa: E402
from fieldapp.services.demo import seed_demo  # noqa: E402
from tests.support import csrf_from  # noqa: E402

HEADERS = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}


def run(database_url: str, records: int, batch: int) -> None:
    from flask_migrate import upgrade

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "CHECK_SCHEMA": False,
            "COOKIE_SECURE": False,
        }
    )
    with app.app_context():
        upgrade()
        seed_demo(db.session, "demo")
        db.session.commit()
        worker = db.session.scalar(select(User).where(User.email == "worker@example.org"))
        case_ids = list(
            db.session.scalars(select(Case.id).where(Case.assigned_worker_id == worker.id))
        )
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"email": "worker@example.org", "password": "demo", "csrf_token": token}
    )
    outbox = [
        {
            "uuid": str(uuid.uuid4()),
            "type": "visit",
            "case_id": case_ids[i % len(case_ids)],
            "recorded_at": "2026-11-23T10:00:00+01:00",
            "data": {"channel": "door", "result": "not_home", "notes": "bench"},
        }
        for i in range(records)
    ]
    batches = [outbox[i : i + batch] for i in range(0, records, batch)]
    for label in ("first send", "replay"):
        started = time.perf_counter()
        statuses: dict[str, int] = {}
        for chunk in batches:
            response = client.post("/sync", json={"records": chunk}, headers=HEADERS)
            for result in response.get_json()["results"]:
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
        seconds = time.perf_counter() - started
        print(
            f"  {label:<10} {records} records in {seconds:6.2f} s = "
            f"{records / seconds:7.0f} records/s  {statuses}"
        )
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as folder:
        print(f"SQLite, batches of {args.batch}:")
        run(f"sqlite:///{folder}/bench.sqlite3", args.records, args.batch)
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print(f"PostgreSQL, batches of {args.batch}:")
            run(args.postgres.rsplit("/", 1)[0] + "/" + name, args.records, args.batch)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
