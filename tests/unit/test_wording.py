"""A service's message stays English away from a page and keeps its values to be worded."""

from __future__ import annotations

from fieldapp.domain.wording import N_, Wording, english, wording_of
from fieldapp.services.tabular import RowError, parse_amount


def test_a_wording_is_english_without_a_page_and_survives_storage():
    message = Wording(N_("%(field)s is missing"), field=Wording(N_("arrears")))
    assert str(message) == message.english() == "arrears is missing"
    assert Wording.from_dict(message.as_dict()) == message


def test_a_cell_error_keeps_its_english_and_its_wording():
    try:
        parse_amount("12x")
    except ValueError as error:
        assert english(error) == "not an amount: '12x'"
        row = RowError(3, "arrears", "12x", wording_of(error))
    assert row.reason == "not an amount: '12x'"
    assert row.wording == {"msgid": "not an amount: %(value)s", "values": {"value": "'12x'"}}
    # A report stored before reasons were worded reads as it was.
    assert RowError(3, "arrears", "12x", "old words").worded() == "old words"
