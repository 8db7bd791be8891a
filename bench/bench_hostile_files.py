"""Benchmark hostile uploads: what reading each costs, and what the lead's preview request costs."""

# Usage:
#     python bench/bench_hostile_files.py [--only TEXT]
#
# The files are the ones the tests refuse (tests/hostile_files.py builds both). Each is written
# to a temporary folder, then measured in subprocesses of its own, so one file's peak memory is
# not another's: read_table once for seconds and how far the process's resident memory rose
# (Linux's VmHWM, reset just before the call), once under tracemalloc for Python's own peak
# (slower, so not timed); then the preview, POST /imports as a logged-in lead on a fresh
# migrated SQLite database, for seconds and peak memory. For the list of many bad rows, which
# is accepted, the download of every rejected row is timed too. Nothing is asserted: the
# figures are printed.

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_files import HOSTILE_FILES  # noqa: E402

PASSWORD = "correct horse battery"


def memory_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def start_peak() -> float:
    """Reset the process's peak resident memory to what it holds now, and return that.

    ru_maxrss would not do: Linux carries it over exec from the parent, so a child would
    start at the parent's peak (which builds the files)."""
    Path("/proc/self/clear_refs").write_text("5")
    return memory_mib("VmRSS")


def peak_since(start: float) -> float:
    """How far the peak resident memory rose above `start`, in MiB."""
    return memory_mib("VmHWM") - start


def measure_read(path: Path, traced: bool) -> dict:
    """read_table on the file: seconds and peak memory, or Python's traced peak."""
    import openpyxl  # noqa: F401  (imported before the baseline, as a server has it)

    from fieldapp.services.tabular import FileRefused, read_table

    data = path.read_bytes()
    before = start_peak()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = f"read {len(read_table(data, path.name).rows):,} rows"
    except FileRefused as refusal:
        outcome = f"refused: {refusal}"
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "peak_mib": peak_since(before),
        "process_mib": memory_mib("VmHWM"),
        "outcome": outcome,
    }
    if traced:
        result["traced_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def measure_preview(path: Path, database: Path) -> dict:
    """POST /imports with the file as a logged-in lead: seconds, peak memory, what came back."""
    from fieldapp import create_app
    from fieldapp.extensions import db
    from fieldapp.services.accounts import create_user
    from tests.support import AuthActions

    config = {
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "bench",
        "COOKIE_SECURE": False,
        "CHECK_SCHEMA": False,
        "VAPID_PRIVATE_KEY": str(database.parent / "vapid.pem"),
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 8,
        "PASSWORD_HASH_PARALLELISM": 1,
    }
    app = create_app(config)
    with app.app_context():
        create_user(db.session, "lead@example.org", PASSWORD, "lead", "Team A", "Lead")
        db.session.commit()
    auth = AuthActions(app.test_client())
    auth.login("lead@example.org")
    token = auth.csrf("/imports")
    form = {
        "csrf_token": token,
        "kind": "arrears",
        "new_landlord": "Boligforeningen Kronborg",
        "file": (io.BytesIO(path.read_bytes()), path.name),
    }
    before = start_peak()
    started = time.perf_counter()
    response = auth.client.post("/imports", data=form, content_type="multipart/form-data")
    seconds = time.perf_counter() - started
    html = response.get_data(as_text=True)
    result = {
        "seconds": seconds,
        "peak_mib": peak_since(before),
        "process_mib": memory_mib("VmHWM"),
        "status": response.status_code,
        "page_bytes": len(response.get_data()),
    }
    link = re.search(r'href="([^"]+)" id="rejected-rows-csv"', html)
    if link:
        started = time.perf_counter()
        download = auth.client.get(link.group(1).replace("&amp;", "&"))
        result["download_seconds"] = time.perf_counter() - started
        result["download_bytes"] = len(download.get_data())
        result["download_peak_mib"] = peak_since(before)
    return result


def migrated_template(folder: Path) -> Path:
    """A migrated SQLite database to copy for each preview."""
    from flask_migrate import upgrade

    from fieldapp import create_app
    from fieldapp.extensions import db

    path = folder / "template.sqlite3"
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "bench", "CHECK_SCHEMA": False}
    )
    with app.app_context():
        logging.disable(logging.INFO)  # Alembic's env.py logs every revision
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        db.engine.dispose()
    return path


def child(*arguments: str) -> dict:
    """Run one measurement in a fresh interpreter and return what it printed."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="only the files whose name has this text")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        what, *rest = options.child
        if what == "read":
            print(json.dumps(measure_read(Path(rest[0]), traced=False)))
        elif what == "traced":
            print(json.dumps(measure_read(Path(rest[0]), traced=True)))
        else:
            print(json.dumps(measure_preview(Path(rest[0]), Path(rest[1]))))
        return

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        template = migrated_template(folder)
        print("Peak: how far the process's resident memory rose during the call (VmHWM).")
        for label, (make, filename) in HOSTILE_FILES.items():
            if options.only.lower() not in label.lower():
                continue
            path = folder / filename
            path.write_bytes(make())
            database = folder / f"{path.stem}.sqlite3"
            shutil.copyfile(template, database)
            read = child("read", str(path))
            traced = child("traced", str(path))
            preview = child("preview", str(path), str(database))
            print(f"\n{label} ({path.stat().st_size:,} bytes)")
            if "error" in read or "error" in preview or "error" in traced:
                print(f"  failed: {read.get('error') or traced.get('error') or preview['error']}")
                continue
            print(
                f"  read_table: {read['seconds']:.2f} s, +{read['peak_mib']:.0f} MiB peak "
                f"(process {read['process_mib']:.0f} MiB; {traced['traced_mib']:.1f} MiB "
                f"traced) — {read['outcome']}"
            )
            print(
                f"  preview:    {preview['seconds']:.2f} s, +{preview['peak_mib']:.0f} MiB peak "
                f"(process {preview['process_mib']:.0f} MiB), HTTP {preview['status']}, "
                f"page {preview['page_bytes']:,} bytes"
            )
            if "download_seconds" in preview:
                print(
                    f"  download of the rejected rows: {preview['download_seconds']:.2f} s, "
                    f"{preview['download_bytes']:,} bytes, "
                    f"+{preview['download_peak_mib']:.0f} MiB peak since the preview began"
                )
            path.unlink()
            database.unlink()


if __name__ == "__main__":
    main()
