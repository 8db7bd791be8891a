"""The legal clock of each country (domain.legal_clock): the deadlines its steps start, the
steps each country offers, the § 5 a rule, and the step words of an import by country."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from fieldapp.domain.legal_clock import (
    assess_at_once,
    clock_deadlines,
    clock_rows,
    offered_steps,
)
from fieldapp.services.tabular import normalise_step
from fieldapp.services.triage import next_deadline

D = date(2026, 12, 1)


@dataclass
class Step:
    kind: str
    date: date
    id: int = 0


def test_a_danish_demand_makes_the_deadline_fourteen_days_later() -> None:
    assert next_deadline([Step("demand", D)], D) == (D + timedelta(days=14), "demand_expires")


def test_a_norwegian_notice_gives_the_earliest_petition_fourteen_days_later() -> None:
    assert next_deadline([Step("notice_9_11", D)], D) == (
        D + timedelta(days=14),
        "earliest_petition",
    )


def test_a_clock_still_runs_on_its_last_day_and_is_gone_the_day_after() -> None:
    steps = [Step("demand", D)]
    assert clock_deadlines(steps, D + timedelta(days=14))[0].date == D + timedelta(days=14)
    assert clock_deadlines(steps, D + timedelta(days=15)) == []


def test_a_later_step_replaces_the_clock_with_its_own_deadline() -> None:
    hearing = D + timedelta(days=40)
    steps = [Step("demand", D), Step("petition", D + timedelta(days=16)), Step("hearing", hearing)]
    assert clock_deadlines(steps, D) == []
    assert next_deadline(steps, D) == (hearing, "hearing")
    # A petition filed before the 14 days are out ends the demand's clock too.
    assert next_deadline([Step("demand", D), Step("petition", D + timedelta(days=3))], D) == (
        None,
        None,
    )


def test_a_newer_demand_runs_its_own_clock() -> None:
    later = D + timedelta(days=5)
    assert next_deadline([Step("demand", D), Step("demand", later)], D) == (
        later + timedelta(days=14),
        "demand_expires",
    )


def test_each_country_offers_its_own_first_step() -> None:
    assert offered_steps("DK")[0] == "demand" and "notice_9_11" not in offered_steps("DK")
    assert offered_steps("NO")[0] == "notice_9_11" and "demand" not in offered_steps("NO")
    assert offered_steps(None) == offered_steps("DK")


def test_a_danish_petition_in_a_household_with_children_is_to_be_assessed_at_once() -> None:
    steps = [Step("demand", D), Step("petition", D + timedelta(days=20))]
    assert assess_at_once("DK", steps, children=2) == D + timedelta(days=20)
    assert assess_at_once("DK", steps, children=0) is None
    assert assess_at_once("NO", steps, children=2) is None
    assert assess_at_once("DK", [Step("demand", D)], children=2) is None
    withdrawn = [*steps, Step("withdrawn", D + timedelta(days=30))]
    assert assess_at_once("DK", withdrawn, children=2) is None


def test_the_clock_rows_show_done_steps_and_the_next_with_its_deadline() -> None:
    due = D + timedelta(days=14)
    rows = clock_rows("DK", [Step("demand", D)], due, "demand_expires")
    assert [r.kind for r in rows] == ["demand", "petition", "hearing", "eviction_scheduled"]
    assert rows[0].on == D and not rows[0].is_next
    assert (rows[1].is_next, rows[1].due_on, rows[1].due_kind) == (True, due, "demand_expires")
    assert rows[2].on is None and rows[2].due_on is None and not rows[2].is_next
    # A hearing ahead is not a clock deadline: the next step carries no date of its own.
    hearing = D + timedelta(days=30)
    rows = clock_rows("NO", [Step("petition", D), Step("hearing", hearing)], hearing, "hearing")
    assert [r.kind for r in rows] == ["notice_9_11", "petition", "eviction_scheduled"]
    assert rows[2].is_next and rows[2].due_on is None
    assert clock_rows("DK", [], None, None) == []


@pytest.mark.parametrize("word", ["påkrav", "Pakrav", "PAAKRAV", "demand", "Påkrav sendt"])
def test_danish_demand_words(word: str) -> None:
    assert normalise_step(word, "DK") == "demand"


@pytest.mark.parametrize(
    "word", ["varsel", "9-11", "§ 9-11", "notice", "Varsel etter husleieloven § 9-11"]
)
def test_norwegian_notice_words(word: str) -> None:
    assert normalise_step(word, "NO") == "notice_9_11"


def test_the_bailiffs_notice_of_the_date_is_not_the_landlords_notice() -> None:
    assert normalise_step("Varsel om tvangsfravikelse", "NO") == "eviction_scheduled"


def test_the_other_countrys_step_is_refused_with_the_names_this_country_accepts() -> None:
    with pytest.raises(ValueError) as error:
        normalise_step("påkrav", "NO")
    message = str(error.value)
    assert message.startswith("step 'påkrav' is not used in this country; allowed here: ")
    assert "varsel § 9-11 (notice_9_11)" in message and "påkrav (demand)" not in message
    with pytest.raises(ValueError) as error:
        normalise_step("Varsel", "DK")
    assert "påkrav (demand)" in str(error.value)


def test_an_unknown_step_for_a_country_lists_that_countrys_names() -> None:
    with pytest.raises(ValueError) as error:
        normalise_step("Kaffe", "DK")
    assert str(error.value).startswith("unknown step: 'Kaffe'; allowed here: påkrav (demand), ")


def test_a_step_left_out_is_marked_skipped_and_left_off_the_card() -> None:
    rows = clock_rows("DK", [Step("petition", D)], None, None)
    assert rows[0].kind == "demand" and rows[0].skipped and not rows[0].compact
    assert [r.kind for r in rows if r.compact] == ["petition", "hearing"]
    assert rows[1].compact and not rows[1].skipped
