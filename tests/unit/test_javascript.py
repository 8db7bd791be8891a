"""The outbox's pure JavaScript (static/js/outbox-core.js) under `node --test` (tests/js/)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from fieldapp.domain import outbox as contract
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]


def test_the_outbox_core_passes_its_node_tests(tmp_path):
    node = shutil.which("node")
    if node is None:
        need("Node.js is missing: install Debian's package `nodejs` (20 or newer)")
    contract_file = tmp_path / "contract.json"
    contract_file.write_text(contract.as_json(), encoding="utf-8")
    result = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "js")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DOORSTEP_CONTRACT": str(contract_file)},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # node prints "# pass N" / "# fail N": every test ran and none failed.
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, result.stdout[-2000:]
