"""Make this machine ready for the whole suite: Debian's browsers, and the local PostgreSQL.

Run by the Quick start's test command and by .ci/run. Installs, with one apt-get call when any is
missing and we are root, `chromium` and what the WebKitGTK and Firefox phones need
(`webkit2gtk-driver`, `firefox-esr`, `xvfb`, and `gir1.2-webkit2-4.1` with `python3-gi` for
tests/browser/webkit_shell.py); starts the local PostgreSQL cluster when it is installed but down.
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
SYSTEM_PYTHON = "/usr/bin/python3"

# Debian package -> how to tell it is there.
BROWSER_PACKAGES = {
    "chromium": Path(CHROMIUM),
    "webkit2gtk-driver": Path("/usr/bin/WebKitWebDriver"),
    "firefox-esr": Path("/usr/bin/firefox-esr"),
    "xvfb": Path("/usr/bin/Xvfb"),
    "python3-gi": None,  # checked by importing gi with the system Python
    "gir1.2-webkit2-4.1": None,  # checked by loading WebKit2 4.1 through gi
}


def _run(command: list[str]) -> bool:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode == 0


def _system_python_has(code: str) -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    result = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, check=False)
    return result.returncode == 0


def _present(package: str) -> bool:
    if package == "python3-gi":
        return _system_python_has("import gi")
    if package == "gir1.2-webkit2-4.1":
        return _system_python_has(
            "import gi; gi.require_version('WebKit2', '4.1'); from gi.repository import WebKit2"
        )
    return BROWSER_PACKAGES[package].exists()


def ensure_browsers() -> None:
    missing = [package for package in BROWSER_PACKAGES if not _present(package)]
    for package in BROWSER_PACKAGES:
        if package not in missing:
            print(f"{package}: there")
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            f"browsers: missing {' '.join(missing)}; install these Debian packages (as root) "
            "to run the browser tests"
        )
        return
    env_ok = _run(["apt-get", "update", "-qq"])
    installed = env_ok and _run(["apt-get", "install", "-y", "-qq", *missing])
    print(f"{' '.join(missing)}: {'installed' if installed else 'apt-get failed'}")


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


ROOT = Path(__file__).resolve().parents[1]


def ensure_node_packages() -> None:
    """The test tools from npm (package.json, pinned by package-lock.json): `npm ci`, which
    installs exactly the lock, when node_modules is missing or older than the lock. Node.js
    and npm come from Debian's packages when missing and we are root."""
    if not shutil.which("npm"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            _run(["apt-get", "install", "-y", "-qq", "nodejs", "npm"])
        if not shutil.which("npm"):
            print("npm: missing; install Debian's packages `nodejs` and `npm` (Node.js 20+)")
            return
    lock, installed = ROOT / "package-lock.json", ROOT / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        print("npm: node_modules matches package-lock.json")
        return
    ok = (
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=False).returncode
        == 0
    )
    print("npm: installed from package-lock.json" if ok else "npm: `npm ci` failed")


def main() -> int:
    ensure_browsers()
    ensure_postgres()
    ensure_node_packages()
    return 0


if __name__ == "__main__":
    sys.exit(main())
