"""Benchmark seeding the demo town: how long `seed_demo` takes and how many rows it writes.

Usage:
    python bench/bench_demo_seed.py [--repeat 5] [--postgres URL]

Password hashing runs at the tests' cost. Each round seeds the demo twice, without and with
its five years of history, each into a fresh migrated database (a copy of one migrated SQLite
file, as the tests do, or with --postgres a scratch database created once, emptied between
rounds and dropped at the end) and commits. Prints the median and each round's seconds, and
the rows per table. No assertions.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldapp import create_app  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.services.demo import seed_demo  # noqa: E402


def _app(url: str):
    # Password hashing at the tests' cost: the demo's eight logins would otherwise be most of
    # the time, and the tests are where seeding is paid for most often.
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "CHECK_SCHEMA": False,
            "COOKIE_SECURE": False,
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 8,
            "PASSWORD_HASH_PARALLELISM": 1,
        }
    )


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = _app(url)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _round(url: str, history: bool) -> tuple[float, dict[str, int]]:
    app = _app(url)
    with app.app_context():
        started = time.perf_counter()
        seed_demo(db.session, "demo", history=history)
        db.session.commit()
        seconds = time.perf_counter() - started
        rows = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
        db.engine.dispose()
    return seconds, {name: n for name, n in rows.items() if n}


def _empty(url: str) -> None:
    app = _app(url)
    with app.app_context():
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="admin URL, e.g. postgresql+psycopg://postgres@/x")
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    rows: dict[bool, dict[str, int]] = {}
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
        try:
            _migrate(url)
            for _ in range(args.repeat):
                for history in (False, True):
                    seconds, rows[history] = _round(url, history)
                    times[history].append(seconds)
                    _empty(url)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as folder:
            template = Path(folder) / "template.sqlite3"
            _migrate(f"sqlite:///{template}")
            for number in range(args.repeat):
                for history in (False, True):
                    path = Path(folder) / f"round{number}-{history}.sqlite3"
                    shutil.copyfile(template, path)
                    seconds, rows[history] = _round(f"sqlite:///{path}", history)
                    times[history].append(seconds)
    for history, label in ((False, "without history"), (True, "with history")):
        print(
            f"seed_demo {label}: median {statistics.median(times[history]):.3f} s "
            f"(rounds: {' '.join(f'{t:.3f}' for t in times[history])})"
        )
        print("  rows: " + ", ".join(f"{name} {n}" for name, n in sorted(rows[history].items())))


if __name__ == "__main__":
    main()
