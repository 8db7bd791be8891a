"""Make this machine ready for the whole suite: Debian's Chromium, and the local PostgreSQL.

Run by the Quick start's test command and by .ci/run. Installs `chromium` with apt-get when it is
missing and we are root; starts the local PostgreSQL cluster when it is installed but down.
Without root or without the packages it says what is missing; the tests that need it then skip
with a message (or fail, under CI=true).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def _run(command: list[str]) -> bool:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode == 0


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        print(f"chromium: {CHROMIUM} is there")
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "chromium: missing; install Debian's package `chromium` (as root) "
            "to run the browser tests"
        )
        return
    env_ok = _run(["apt-get", "update", "-qq"])
    installed = env_ok and _run(["apt-get", "install", "-y", "-qq", "chromium"])
    print("chromium: installed" if installed else "chromium: apt-get failed")


def _postgres_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def ensure_postgres() -> None:
    if _postgres_listening():
        print("postgresql: listening on 127.0.0.1:5432")
        return
    clusters = Path("/etc/postgresql")
    if not clusters.is_dir() or not shutil.which("pg_ctlcluster"):
        print("postgresql: not installed here; the PostgreSQL tests will skip")
        return
    for version in sorted(p.name for p in clusters.iterdir()):
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    for _ in range(30):
        if _postgres_listening():
            print("postgresql: started")
            return
        time.sleep(0.5)
    print("postgresql: could not be started")


def main() -> int:
    ensure_chromium()
    ensure_postgres()
    return 0


if __name__ == "__main__":
    sys.exit(main())
