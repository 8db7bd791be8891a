"""What a fresh machine installs: the lock files agree with pyproject.toml, and a wheel built
from the checkout, installed outside it, serves the app on its own."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
APP_LOCK = ROOT / "requirements/app.txt"
TEST_LOCK = ROOT / "requirements/test.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)(?:\s*;[^\\]*)?\s*\\?$")


def read_lock(path: Path) -> dict[str, tuple[str, int]]:
    """{name: (version, number of hashes)} of a pip-compile --generate-hashes file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (match[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def unmet(requirements: list[str], pins: dict[str, tuple[str, int]]) -> list[str]:
    environment = default_environment()
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name}: not in the lock")
        elif not requirement.specifier.contains(pinned[0], prereleases=True):
            problems.append(f"{requirement.name}=={pinned[0]} outside {requirement.specifier}")
    return problems


def test_the_locks_satisfy_pyproject_and_pin_everything_with_hashes():
    meta = pyproject()
    runtime = meta["project"]["dependencies"]
    tests = meta["project"]["optional-dependencies"]["test"]
    server = meta["project"]["optional-dependencies"]["server"]
    build = meta["build-system"]["requires"]
    app, test = read_lock(APP_LOCK), read_lock(TEST_LOCK)
    assert len(app) > 40 and len(test) > len(app)
    assert unmet(runtime + server + build, app) == []
    assert unmet(runtime + server + tests + build, test) == []
    assert [name for name, (_, hashes) in {**app, **test}.items() if hashes == 0] == []
    # The test lock is the app lock plus the test tools: CI tests what the demo runs.
    assert {name: pin for name, pin in test.items() if name in app} == app


def test_the_lock_check_fails_on_a_pin_outside_the_range(tmp_path):
    lock = tmp_path / "app.txt"
    text = APP_LOCK.read_text(encoding="utf-8")
    flask_version = read_lock(APP_LOCK)["flask"][0]
    lock.write_text(text.replace(f"flask=={flask_version}", "flask==2.3.3"), encoding="utf-8")
    assert unmet(["flask>=3.0,<4"], read_lock(lock)) == ["flask==2.3.3 outside <4,>=3.0"]
    lock.write_text(text.replace(f"flask=={flask_version}", "flusk==3.1.0"), encoding="utf-8")
    assert unmet(["flask>=3.0,<4"], read_lock(lock)) == ["flask: not in the lock"]


def test_quick_start_and_ci_install_from_the_locks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first, second = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    assert "--require-hashes -r requirements/app.txt" in first
    assert "--require-hashes -r requirements/test.txt" in second
    assert second in (ROOT / ".ci/run").read_text(encoding="utf-8")


def every_package() -> set[str]:
    return {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "fieldapp").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }


def test_every_python_package_is_listed_for_the_wheel():
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    assert every_package() <= listed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own server
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*build, "-q", "-w", str(out), str(ROOT)], check=True, timeout=300)
    (found,) = out.glob("doorstep_fieldapp-*.whl")
    return found


def test_the_wheel_holds_pages_static_files_worker_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "templates").rglob("*.html"):
        assert f"fieldapp/templates/{path.relative_to(ROOT / 'templates')}" in names
    for path in (ROOT / "static").rglob("*"):
        if path.is_file():
            assert f"fieldapp/static/{path.relative_to(ROOT / 'static')}" in names
    for path in (ROOT / "service-worker").glob("*.js"):
        assert f"fieldapp/service_worker/{path.name}" in names
    for path in (ROOT / "fieldapp/migrations/versions").glob("*.py"):
        assert f"fieldapp/migrations/versions/{path.name}" in names
    assert "fieldapp/migrations/env.py" in names
    assert "fieldapp/translations/da/LC_MESSAGES/messages.mo" in names


def test_a_wheel_installed_outside_the_checkout_serves_the_app(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel],
        check=True,
        timeout=120,
    )
    # The dependencies come from this environment's site-packages (a plain path line, so the
    # checkout's editable install there is not picked up); the package itself is the wheel's.
    purelib = Path(
        subprocess.check_output(
            [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "borrowed-deps.pth").write_text("\n".join(sorted(paths)) + "\n")
    instance = tmp_path / "instance"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FIELDAPP_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(FIELDAPP_INSTANCE_PATH=str(instance), FIELDAPP_COOKIE_SECURE="false")
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 120}

    where = subprocess.run(
        [bin_dir / "python", "-c", "import fieldapp; print(fieldapp.__file__)"], **run
    )
    assert where.stdout.strip().startswith(str(venv)), where
    upgrade = subprocess.run([bin_dir / "fieldapp", "db", "upgrade"], **run)
    assert upgrade.returncode == 0, upgrade.stderr
    assert {"fieldapp.sqlite3", "secret_key"} <= {p.name for p in instance.iterdir()}
    routes = subprocess.run([bin_dir / "fieldapp", "routes"], **run)
    assert routes.returncode == 0, routes.stderr
    assert "/service-worker.js" in routes.stdout and "auth.login" in routes.stdout

    port = _free_port()
    server = subprocess.Popen(
        [bin_dir / "fieldapp", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, _, page = _get(f"{base}/login")
                break
            except OSError:
                time.sleep(0.1)
        else:
            died = server.poll() is not None
            pytest.fail(server.stderr.read1().decode() if died else "no answer")
        assert status == 200 and b'name="password"' in page
        stylesheets = re.findall(rb'<link[^>]+href="(/static/[^"]+\.css)[^"]*"', page)
        assert stylesheets
        for href in stylesheets:
            status, kind, body = _get(base + href.decode())
            assert status == 200 and kind.startswith("text/css") and len(body) > 100
        status, kind, body = _get(f"{base}/service-worker.js")
        assert status == 200 and "javascript" in kind and b"SW_VERSION" in body
        status, kind, body = _get(f"{base}/manifest.webmanifest")
        icons = json.loads(body)["icons"]
        assert icons
        for icon in icons:
            status, kind, body = _get(base + icon["src"])
            assert status == 200 and kind == "image/png" and body[:4] == b"\x89PNG"
        assert (instance / "vapid_private.pem").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
