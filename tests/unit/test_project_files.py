"""The project's own promises about its files: the two-command Quick start, CI, translations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[2]
LANGUAGES = ("da", "nb")


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2 and all("\n" not in command for command in commands)
    assert commands[0].endswith("pip install --no-deps --no-build-isolation -e . && fieldapp demo")


def test_ci_runs_the_quick_start_test_command_with_ci_true():
    script = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "export CI=true" in script
    assert quick_start_commands()[1] in script.splitlines()


def _messages(catalog) -> dict:
    return {
        m.id if isinstance(m.id, str) else m.id[0]: m.string
        if isinstance(m.string, str)
        else tuple(m.string)
        for m in catalog
        if m.id
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_compiled(language):
    folder = ROOT / "fieldapp/translations" / language / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        po = read_po(handle)
    missing = [
        m.id
        for m in po
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert missing == [] and fuzzy == []
    with (folder / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    assert _messages(mo) == _messages(po), "run: pybabel compile -d fieldapp/translations"


def test_template_lists_every_message_in_the_catalogs():
    with (ROOT / "fieldapp/translations/messages.pot").open("rb") as handle:
        template = set(_messages(read_po(handle)))
    for language in LANGUAGES:
        path = ROOT / "fieldapp/translations" / language / "LC_MESSAGES/messages.po"
        with path.open("rb") as handle:
            assert template <= set(_messages(read_po(handle))), language


def test_template_is_up_to_date_with_the_source(tmp_path):
    import subprocess
    import sys

    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "_l",
            "-o",
            str(fresh),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        in_source = set(_messages(read_po(handle)))
    with (ROOT / "fieldapp/translations/messages.pot").open("rb") as handle:
        in_template = set(_messages(read_po(handle)))
    assert in_source == in_template, "run the pybabel extract/update commands in the README"


def test_no_text_people_read_names_a_setting():
    # "No setting names or library names in what users see": the catalogue is every
    # translated text; a setting's name belongs in the README and the logs.
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    with (root / "fieldapp" / "translations" / "messages.pot").open("rb") as handle:
        catalogue = read_po(handle)
    named = [m.id for m in catalogue if m.id and "FIELDAPP_" in str(m.id)]
    assert named == []
