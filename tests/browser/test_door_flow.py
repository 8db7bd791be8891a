"""The door, measured in Chromium on a 390 × 844 phone: a visit with a signed consent for two
partners, two needs with their own notes and one agreed action in at most 10 taps (typing not
counted) and at most 2 screens of scrolling; every confirmation and error in view, beside the
control that caused it, when it appears; no target under 44 px on the card, Today and
Tomorrow; a signature pad the screen's width and 180 px high; the witness only for verbal
consent; the outbox in the worker's words, never codes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import PHONE, log_in

pytestmark = pytest.mark.browser

TAPS = 10
SCREENS = 2

# Every confirmation or error that appears on the page, and whether it was in view then.
WATCH_MESSAGES = """() => {
  window.doorMessages = [];
  const seen = (element) => {
    if (element.hidden || !element.textContent.trim()) return;
    requestAnimationFrame(() => {
      const box = element.getBoundingClientRect();
      window.doorMessages.push({
        text: element.textContent.trim(),
        error: element.classList.contains("error"),
        // (within a pixel: a scroll lands on fractions of one)
        inView: box.height > 0 && box.top >= -1 && box.bottom <= window.innerHeight + 1,
      });
    });
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      const target = change.target.nodeType === 1 ? change.target : change.target.parentElement;
      const message = target?.closest(".form-message");
      if (message) seen(message);
    }
  }).observe(document.body, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["hidden"],
  });
  // How far the card moved on the screen, whoever scrolled: the test's finger, the page
  // itself, the browser. (When the bar above grows, the card scrolls by as much to stay where
  // it is: that is no movement, and is not counted.)
  const flow = document.getElementById("door-steps");
  window.doorScrolled = 0;
  let last = flow.getBoundingClientRect().top;
  window.addEventListener("scroll", () => {
    const top = flow.getBoundingClientRect().top;
    window.doorScrolled += Math.abs(top - last);
    last = top;
  }, { passive: true });
}"""

# What WATCH_MESSAGES saw, once the frame it measures in has been drawn.
MESSAGES_SEEN = """() => new Promise((resolve) =>
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(window.doorMessages))))"""

# Every visible thing one can tap, with the box a finger hits (a radio's or checkbox's label).
SMALL_TARGETS = """() => {
  const small = [];
  const targets = "a[href], button, input, select, textarea, summary";
  for (const element of document.querySelectorAll(targets)) {
    if (element.type === "hidden") continue;
    const choice = element.type === "radio" || element.type === "checkbox";
    const hit = choice && element.closest("label") ? element.closest("label") : element;
    const box = hit.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.width < 44 || box.height < 44) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "");
      const words = (hit.textContent || element.name || "").trim().slice(0, 40);
      small.push(`${name} "${words}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return small;
}"""


# Choices (a tick box or radio button with its words) that cover one another: a finger on one
# would tick the other.
OVERLAPPING = """() => {
  const boxes = [...document.querySelectorAll("label.choice")]
    .map((label) => [label, label.getBoundingClientRect()])
    .filter(([, box]) => box.width > 0);
  const hits = [];
  for (const [i, [a, p]] of boxes.entries()) {
    for (const [b, q] of boxes.slice(i + 1)) {
      const across = p.left < q.right - 1 && q.left < p.right - 1;
      if (across && p.top < q.bottom - 1 && q.top < p.bottom - 1) {
        hits.push(`${a.textContent.trim()} / ${b.textContent.trim()}`);
      }
    }
  }
  return hits;
}"""


class Door:
    """A worker's finger on the phone: every tap counted; typing is not."""

    def __init__(self, page):
        self.page = page
        self.taps = 0
        self.cards: list[str] = []

    def tap(self, locator):
        # A person scrolls only until the control is in view, then taps its middle (a
        # Playwright tap would scroll by its own rules first).
        locator.evaluate("(element) => element.scrollIntoView({ block: 'nearest' })")
        box = locator.bounding_box()
        self.page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.taps += 1

    def sign(self, pad):
        pad.evaluate("(element) => element.scrollIntoView({ block: 'nearest' })")
        box = pad.bounding_box()
        mouse = self.page.mouse
        mouse.move(box["x"] + 30, box["y"] + 60)
        mouse.down()
        mouse.move(box["x"] + 140, box["y"] + 120, steps=8)
        mouse.move(box["x"] + 260, box["y"] + 50, steps=8)
        mouse.up()
        self.taps += 1  # one stroke of the finger


@pytest.fixture(scope="module")
def cards(browser, demo_server) -> list[str]:
    """Today's cards as the module's server starts, so that each test keeps its own case
    (a visit recorded by one test moves its case down the list)."""
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    log_in(page, "worker@example.org")
    expect(page).to_have_url(re.compile(r"/today$"))
    urls = page.locator("#today-list a[data-offline-url]").evaluate_all(
        "(links) => links.map((link) => link.getAttribute('href'))"
    )
    context.close()
    return urls


@pytest.fixture
def door(browser, demo_server, cards):
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    log_in(page, "worker@example.org")
    expect(page).to_have_url(re.compile(r"/today$"))
    door = Door(page)
    door.cards = cards
    yield door
    context.close()


def open_card(door, index=0):
    page = door.page
    url = door.cards[index]
    page.goto(url)
    page.evaluate(WATCH_MESSAGES)
    return int(url.rstrip("/").rsplit("/", 1)[1])


def test_a_visit_with_signed_consent_two_needs_and_an_action_takes_ten_taps_and_two_screens(
    door, demo_server
):
    page = door.page
    case_id = open_card(door)
    visit = page.locator("#visit-form")
    door.tap(visit.get_by_label("Met the tenant"))
    visit.get_by_label("Notes").fill("Talked at the door; a letter from the bailiff came.")
    door.tap(visit.get_by_role("button", name="Save visit"))

    consent = page.locator("#consent-form")
    expect(consent).to_be_visible()
    door.tap(consent.get_by_label("Debt counselling"))
    door.tap(consent.get_by_label("Landlord"))
    door.sign(page.locator("#signature-pad"))
    door.tap(consent.get_by_role("button", name="Save consent"))

    needs = page.locator("#needs-form")
    expect(needs).to_be_visible()
    door.tap(needs.get_by_label("Debt counselling", exact=True))
    door.tap(needs.get_by_label("Budget", exact=True))
    expect(needs.get_by_label("Budget", exact=True)).to_be_checked()
    needs.get_by_label("Note on Debt counselling").fill("Three payday loans")
    needs.get_by_label("Note on Budget").fill("Wants help with a monthly budget")
    door.tap(needs.get_by_role("button", name="Save needs"))

    action = page.locator("#action-form")
    expect(action).to_be_visible()
    action.get_by_label("What will happen").fill("Book a meeting with debt counselling")
    door.tap(action.get_by_role("button", name="Save action"))

    expect(page.locator("#step-done-body")).to_be_visible()
    recorded = page.locator("#door-recorded li")
    expect(recorded).to_have_count(5)  # visit, consent, two needs, action
    # Never wider than the phone: a wider page makes the phone zoom out (smaller targets, and
    # a taller window that would make the scrolling look less).
    assert page.evaluate("[document.documentElement.scrollWidth, innerWidth, innerHeight]") == [
        390,
        390,
        844,
    ]
    screens = page.evaluate("window.doorScrolled / window.innerHeight")
    messages = page.evaluate(MESSAGES_SEEN)
    print(f"door flow: {door.taps} taps, {screens:.2f} screens scrolled, {len(messages)} messages")
    assert door.taps <= TAPS
    assert screens <= SCREENS, f"{screens:.2f} screens of scrolling"
    # Four confirmations, each in view when it appeared, beside the step it saved.
    saved = [m for m in messages if not m["error"]]
    assert len(saved) >= 4 and all(m["inView"] for m in messages), messages
    # What the worker reads of the outbox: the words tapped, never a stored code.
    labels = recorded.all_inner_texts() + page.locator("#case-waiting-list li").all_inner_texts()
    assert any("Met the tenant" in label for label in labels), labels
    assert any("Debt counselling" in label and "Landlord" in label for label in labels), labels
    assert not any(re.search(r"\b[a-z]+_[a-z_]+\b", label) for label in labels), labels

    # Sent: each need has its own note in the register.
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    engine = create_engine(demo_server.database_url)
    with engine.connect() as connection:
        notes = dict(
            connection.execute(
                text("select need, note from need where case_id = :c"), {"c": case_id}
            ).all()
        )
        actions = connection.execute(
            text("select count(*) from action where case_id = :c"), {"c": case_id}
        ).scalar()
    engine.dispose()
    assert notes["debt_counselling"] == "Three payday loans"
    assert notes["budget"] == "Wants help with a monthly budget"
    assert actions >= 1


def test_errors_appear_beside_what_caused_them_and_in_view(door):
    page = door.page
    open_card(door, 1)
    page.locator("#step-consent .step-toggle").tap()
    consent = page.locator("#consent-form")
    # The register would refuse a consent given for no partner: said now, beside the list.
    consent.get_by_role("button", name="Save consent").tap()
    expect(page.locator("#scopes-message")).to_have_text(
        "Tick the partners the tenant agrees to share with."
    )
    consent.get_by_label("Debt counselling").check()
    consent.get_by_role("button", name="Save consent").tap()
    expect(page.locator("#scopes-message")).to_be_hidden()
    error = page.locator("#signature-message")
    expect(error).to_have_text("The tenant must sign first.")
    pad, said = page.locator("#signature-pad").bounding_box(), error.bounding_box()
    assert 0 <= said["y"] - (pad["y"] + pad["height"]) < 60  # right under the pad

    page.locator("#step-needs .step-toggle").tap()
    page.locator("#needs-form").get_by_role("button", name="Save needs").tap()
    expect(page.locator("#needs-message")).to_have_text("Tick at least one need.")
    messages = page.evaluate(MESSAGES_SEEN)
    assert list(dict.fromkeys(m["text"] for m in messages)) == [
        "Tick the partners the tenant agrees to share with.",
        "The tenant must sign first.",
        "Tick at least one need.",
    ]
    assert all(m["inView"] and m["error"] for m in messages), messages
    assert page.locator("#outbox-bar").get_attribute("data-count") == "0"


def test_the_signature_pad_is_the_screens_width_and_the_witness_only_for_verbal_consent(door):
    page = door.page
    open_card(door, 1)
    page.locator("#step-consent .step-toggle").tap()
    pad = page.locator("#signature-pad").bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert pad["width"] >= width - 2 * 24 and pad["height"] >= 180, pad
    witness = page.locator("#consent-witness")
    expect(witness).to_be_hidden()
    page.locator("#consent-form").get_by_label("Verbal, with a witness").tap()
    expect(witness).to_be_visible()
    expect(page.locator("#signature-pad")).to_be_hidden()


def _publish_tomorrow(database_url: str) -> None:
    tomorrow = (datetime.now(ZoneInfo("Europe/Copenhagen")) + timedelta(days=1)).date()
    subprocess.run(
        [sys.executable, "-m", "fieldapp.cli", "plan-routes", "--date", tomorrow.isoformat()]
        + ["--team", "Boligsocialt team", "--time-limit", "0.3", "--publish"],
        env={**os.environ, "FIELDAPP_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def test_no_target_under_44_px_on_the_card_today_and_tomorrow(door, demo_server):
    page = door.page
    _publish_tomorrow(demo_server.database_url)
    page.goto("/today")
    expect(page.locator("#tomorrow-list li").first).to_be_visible()
    small = page.evaluate(SMALL_TARGETS)
    open_card(door, 0)
    for step in ("visit", "consent", "needs", "action", "done"):
        toggle = page.locator(f"#step-{step} .step-toggle")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.tap()
        expect(page.locator(f"#step-{step}-body")).to_be_visible()
        small += page.evaluate(SMALL_TARGETS)
        small += [f"overlap: {pair}" for pair in page.evaluate(OVERLAPPING)]
    page.locator("#earlier-visits > summary").tap()
    page.locator("#contact-details > summary").tap()
    small += page.evaluate(SMALL_TARGETS)
    small = list(dict.fromkeys(small))
    assert page.evaluate("document.documentElement.scrollWidth") == 390
    assert small == [], "\n".join(small)


def test_an_earlier_actions_state_is_saved_in_place_and_a_withdrawal_only_once(door):
    page = door.page
    open_card(door, 2)
    visit = page.locator("#visit-form")
    visit.get_by_label("Met the tenant").check()
    visit.get_by_role("button", name="Save visit").click()
    consent = page.locator("#consent-form")
    consent.get_by_label("Landlord").check()
    door.sign(page.locator("#signature-pad"))
    consent.get_by_role("button", name="Save consent").click()
    page.locator("#step-action .step-toggle").click()
    page.locator("#action-form").get_by_label("What will happen").fill("Call the landlord")
    page.locator("#action-form").get_by_role("button", name="Save action").click()
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    page.reload()  # the card as the register has it now: a consent given, an action agreed

    page.locator("#step-action .step-toggle").tap()
    update = page.locator(".action-status").first
    update.locator("select").select_option("done")
    update.get_by_role("button", name="Update").tap()
    expect(update.locator(".form-message")).to_contain_text("Saved on the phone")
    expect(page.locator("#action-form")).to_be_visible()  # the step stays open
    assert page.locator("#door-recorded li").last.inner_text() == "Call the landlord: Done"
    page.locator("#step-consent .step-toggle").tap()
    page.locator("#withdraw-form button").tap()
    expect(page.locator("#withdraw-form")).to_be_hidden()
    assert page.locator("#step-consent").get_attribute("data-done") is None
