"""Benchmark the arrears import: a generated N-row list, then a changed list two weeks later."""

# Usage:
#     python bench/bench_import.py [--rows 20000] [--postgres postgresql://postgres@127.0.0.1/test]
#
# Each backend gets a fresh migrated database: a SQLite file in a temporary directory, and with
# --postgres a scratch database created on that server (the URL's user must be allowed to
# CREATE DATABASE) and dropped afterwards. Every measurement runs twice, each time on a fresh
# database: once for wall time, once under tracemalloc for peak memory, because tracemalloc
# slows Python down severalfold and would distort the times.

from __future__ import annotations

import argparse
import csv
import io
import logging
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldapp import create_app  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.services.imports import ImportReport, find_landlord, import_arrears  # noqa: E402

HEADER = [
    "Lejemålsnr.",
    "Navn",
    "Adresse",
    "Postnr.",
    "By",
    "Telefon",
    "Husleje",
    "Restance",
    "Antal mdr. i restance",
    "Opgjort pr.",
]
FIRST_NAMES = ["Signe", "Mohammad", "Birgitte", "Thomas", "Karen", "Yasmin", "Ahmed", "Ida"]
LAST_NAMES = ["Hansen", "Pedersen", "Ali", "Olsen", "Kristensen", "Ærø", "Østergaard", "Jensen"]
STREETS = ["Søndre Strandvej", "Lundegade", "Vapnagaard", "Mørdrupvej", "Grønnehave", "Stengade"]
FLOORS = ["", ", st. th.", ", 1. tv.", ", 2. th.", ", 3."]


def kroner(oere: int) -> str:
    """Øre as a Danish amount cell: 891600 -> "8.916,00"."""
    return f"{oere // 100:,}".replace(",", ".") + f",{oere % 100:02d}"


@dataclass
class Tenant:
    """One generated tenancy and its figures."""

    ref: str
    name: str
    address: str
    phone: str
    rent: int
    months: int


def tenants(count: int, seed: int = 2026) -> list[Tenant]:
    """count tenancies with Danish names, addresses, rents and one to six months owed."""
    rng = random.Random(seed)
    result = []
    for n in range(count):
        street = STREETS[n % len(STREETS)]
        result.append(
            Tenant(
                ref=f"{10 + n // 100_000:02d}-{n // 1000 % 100:03d}-{n % 1000:03d}",
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                address=f"{street} {n // len(STREETS) % 400 + 1}{rng.choice(FLOORS)}",
                phone=f"+45 {rng.randint(20, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                f"{rng.randint(10, 99)}",
                rent=rng.randrange(4_000_00, 10_000_00, 100),
                months=rng.randint(1, 6),
            )
        )
    return result


def list_bytes(people: list[Tenant], as_of: str) -> bytes:
    """A Windows-1252, ';'-separated list as Danish housing associations export them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for t in people:
        writer.writerow(
            [
                t.ref,
                t.name,
                t.address,
                "3000",
                "Helsingør",
                t.phone,
                kroner(t.rent),
                kroner(t.rent * t.months),
                t.months,
                as_of,
            ]
        )
    return buffer.getvalue().encode("cp1252")


def changed_list(people: list[Tenant], seed: int = 14) -> list[Tenant]:
    """Two weeks on: 2 % paid up and gone, 10 % owe a month more, 1 % newly in arrears."""
    rng = random.Random(seed)
    later = []
    for t in people:
        roll = rng.random()
        if roll < 0.02:
            continue
        if roll < 0.12:
            t = Tenant(t.ref, t.name, t.address, t.phone, t.rent, t.months + 1)
        later.append(t)
    extra = tenants(len(people) + len(people) // 100, seed=seed)[len(people) :]
    return later + extra


@dataclass
class Measure:
    """One timed (or traced) import."""

    report: ImportReport
    seconds: float
    peak_bytes: int | None


def run_imports(url: str, files: list[tuple[str, bytes]], trace: bool) -> list[Measure]:
    """Migrate a fresh database at url and import the files in turn, committing each."""
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CHECK_SCHEMA": False})
    results = []
    with app.app_context():
        # Alembic's env.py reconfigures logging on every upgrade; keep its INFO lines quiet.
        logging.disable(logging.INFO)
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        landlord = find_landlord(db.session, "Bench Boligselskab", create=True)
        assert landlord is not None
        db.session.commit()
        for name, data in files:
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            report = import_arrears(db.session, data, name, landlord)
            db.session.commit()
            seconds = time.perf_counter() - started
            peak = None
            if trace:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            results.append(Measure(report, seconds, peak))
        db.session.remove()
        db.engine.dispose()
    return results


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A scratch database on the server at server_url, dropped afterwards."""
    name = f"doorstep_bench_{uuid.uuid4().hex[:10]}"
    driver_url = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(driver_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield driver_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(
    label: str,
    database: Callable[[], AbstractContextManager[str]],
    files: list[tuple[str, bytes]],
    runs: int,
) -> None:
    """Time the imports on `runs` fresh databases (the median is printed, with the range: these
    machines vary by a third between runs) and trace memory on another; print a table."""
    timings = []
    for _ in range(runs):
        with database() as url:
            timings.append(run_imports(url, files, trace=False))
    with database() as url:
        traced = run_imports(url, files, trace=True)
    for index, ((name, data), slow) in enumerate(zip(files, traced, strict=True)):
        seconds = sorted(run[index].seconds for run in timings)
        fast = timings[0][index]
        median = statistics.median(seconds)
        rows = fast.report.new + fast.report.updated + fast.report.unchanged
        rows += fast.report.rejected
        counts = ", ".join(f"{k} {v}" for k, v in fast.report.counts().items())
        print(
            f"{label:<10} {name:<14} {rows:>7} rows  median {median:6.2f} s "
            f"({seconds[0]:.2f}-{seconds[-1]:.2f}, {runs} runs)  {rows / median:6.0f} rows/s  "
            f"peak {slow.peak_bytes / 2**20:6.1f} MiB  ({len(data) / 2**20:.1f} MiB file; {counts})"
        )


def main() -> None:
    """Parse the arguments, generate the two lists and run the benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the first list")
    parser.add_argument("--postgres", metavar="URL", help="server URL to bench PostgreSQL too")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per backend")
    args = parser.parse_args()

    people = tenants(args.rows)
    files = [
        ("first list", list_bytes(people, "15-11-2026")),
        ("changed list", list_bytes(changed_list(people), "29-11-2026")),
    ]
    print(f"Python {sys.version.split()[0]}; {args.rows} tenancies in the first list")
    bench("sqlite", sqlite_database, files, args.runs)
    if args.postgres:
        bench("postgresql", lambda: postgres_database(args.postgres), files, args.runs)


if __name__ == "__main__":
    main()
