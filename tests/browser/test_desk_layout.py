"""In real Chromium on a 1366×768 laptop, in English and in Danish: every page a lead, an
administrator or the data protection officer can open uses the width without cutting anything
off. No sideways scroll of the page; every table cell inside the visible box of its scroll
container, or that container scrolls and can be reached with the keyboard; no select narrower
than its longest option; no checkbox under a label's text; no console error, failed request
or refused style or script (CSP); no library name or stored code in the Danish text.

The pages are walked from the app's url_map and the access matrix's POLICY, so a new page is
checked without anyone adding it here; ids come from the demo data (and a meeting and an import
this module makes). What is not walked, and why, is in NOT_PAGES and PHONE_PAGES."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_demo_server
from tests.integration.test_access_matrix import POLICY

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parents[1] / "fixtures"
LAPTOP = {"viewport": {"width": 1366, "height": 768}}

# GET endpoints these roles may reach that are not pages: files and data, checked elsewhere.
NOT_PAGES = {
    "audit.export": "a CSV file",
    "audit.processing_json": "JSON",
    "imports.staged_rejected_rows": "a CSV file",
    "imports.batch_rejected_rows": "a CSV file",
    "meetings.minutes": "a PDF file",
    "register.subject_access_json": "JSON",
    "reports.outcomes_csv_file": "a CSV file",
    "reports.agreements_csv_file": "a CSV file",
    "reports.lists_csv_file": "a CSV file",
}
# The worker's phone pages keep the phone column (a lead opens them too): tests/browser's
# phone tests look at them on a phone-sized screen.
PHONE_PAGES = {"field.today": "the phone's day", "field.card": "the phone's case card"}
TECHNICAL = ("pyvrp", "bike", "walk", "None", "%(", "{{")
ROLES = {"lead": "lead@example.org", "admin": "admin@example.org", "dpo": "dpo@example.org"}

# Everything a page is checked for, measured in the page; returns one line per problem.
CHECKS = """() => {
  const problems = [];
  const root = document.documentElement;
  // Laid out and not hidden (a closed <details> keeps its content's boxes: checkVisibility).
  const shown = (el) =>
    el.getClientRects().length > 0 && el.checkVisibility({ visibilityProperty: true });
  const name = (el) => {
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
    return el.tagName.toLowerCase() + id + cls;
  };
  const text = (el) => (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  // (a) the page itself never scrolls sideways
  if (root.scrollWidth > root.clientWidth) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth} px in ${root.clientWidth} px`);
  }
  // (b) every table cell is visible, or its container scrolls and takes the keyboard's focus
  for (const table of document.querySelectorAll('table')) {
    if (!shown(table)) continue;
    let box = null;
    for (let el = table.parentElement; el && el !== document.body; el = el.parentElement) {
      if (getComputedStyle(el).overflowX !== 'visible') { box = el; break; }
    }
    const edge = box ? box.getBoundingClientRect() : { left: 0, right: root.clientWidth };
    const cut = [...table.querySelectorAll('th, td')].filter((cell) => {
      if (!shown(cell)) return false;
      const r = cell.getBoundingClientRect();
      return r.right > edge.right + 1 || r.left < edge.left - 1;
    });
    if (!cut.length) continue;
    const where = box ? name(box) : 'the window';
    const scrolls = box && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX)
      && box.scrollWidth > box.clientWidth;
    const label = box && (box.getAttribute('aria-label') || box.getAttribute('aria-labelledby'));
    if (!scrolls) {
      problems.push(`${name(table)}: ${cut.length} cells cut off in ${where}`
        + ` (first: "${text(cut[0])}")`);
    } else if (box.tabIndex < 0 || !label) {
      problems.push(`${name(table)} scrolls in ${where}, which has no tabindex or no label`);
    }
  }
  // (c) a select is as wide as its longest option needs, so whatever is chosen shows whole:
  // a copy holding only that option, at its natural width, is the width needed
  for (const select of document.querySelectorAll('select')) {
    if (!shown(select) || !select.options.length) continue;
    const longest = [...select.options].map((o) => o.text)
      .reduce((a, b) => (b.length > a.length ? b : a));
    const probe = select.cloneNode(false);
    probe.removeAttribute('id');
    probe.removeAttribute('name');
    probe.append(new Option(longest));
    probe.style.cssText = 'position:absolute;visibility:hidden;width:auto;min-width:0;'
      + 'max-width:none;flex:none';
    select.parentElement.append(probe);
    const needed = probe.getBoundingClientRect().width;
    probe.remove();
    const has = select.getBoundingClientRect().width;
    if (has + 0.5 < needed) {
      const widths = `${Math.round(has)} of ${Math.round(needed)} px`;
      problems.push(`${name(select)} cuts "${longest}": ${widths}`);
    }
  }
  // (d) no checkbox or radio button lies under the text of a label
  const words = [];
  for (const label of document.querySelectorAll('label')) {
    const edge = label.getBoundingClientRect();
    if (!shown(label) || edge.width < 2 || edge.height < 2) continue;  // visually hidden
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0) words.push({ label, r });
    }
  }
  for (const box of document.querySelectorAll('input[type=checkbox], input[type=radio]')) {
    if (!shown(box)) continue;
    const b = box.getBoundingClientRect();
    const under = words.find(({ r }) => r.left < b.right - 1 && r.right > b.left + 1
      && r.top < b.bottom - 1 && r.bottom > b.top + 1);
    if (under) problems.push(`${name(box)} lies under the label "${text(under.label)}"`);
  }
  // (e) refused by the content security policy (recorded from the first byte, see below)
  for (const refused of window.__refused || []) problems.push(`CSP refused ${refused}`);
  return problems;
}"""
RECORD_REFUSALS = """
window.__refused = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__refused.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Desk:
    """A laptop's browser logged in as one person, collecting each page's problems."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.problems: dict[str, list[str]] = {}
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))
        page.on("response", self._failed)

    def _failed(self, response) -> None:
        if response.status >= 400:
            request = response.request
            self.console.append(f"{request.method} {request.url} answered {response.status}")

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("networkidle")
        found = self.page.evaluate(CHECKS)
        found += [f"console error: {line}" for line in self.console]
        self.console.clear()
        self.problems[what] = found

    def open(self, path: str, language: str = "en") -> None:
        self.console.clear()
        response = self.page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        kind = response.headers.get("content-type", "")
        assert kind.startswith("text/html"), f"{path} is {kind}: add its endpoint to NOT_PAGES"
        what = path if language == "en" else f"{path} ({language})"
        self.check(what)
        if language == "da":
            # A library's name, a stored code or a template's leftover, which no Danish
            # sentence holds (English says "by bike", so only here).
            shown = self.page.locator("body").inner_text()
            self.problems[what] += [f'shows "{w}"' for w in TECHNICAL if w in shown]

    def speak(self, language: str) -> None:
        """Switch the interface's language with the switch at the foot of every page."""
        self.page.locator("#lang").select_option(language)
        self.page.locator(".lang-switch button[type=submit]").click()
        expect(self.page.locator("html")).to_have_attribute("lang", language)

    def report(self) -> str:
        bad = {page: found for page, found in self.problems.items() if found}
        lines = [f"{len(bad)} of {len(self.problems)} pages have problems:"]
        for page, found in bad.items():
            # The same problem in every item of a list (a select per agenda item) once.
            shapes = Counter(re.sub(r"-\d+\b", "-…", line) for line in found)
            lines.append(f"  {page}")
            lines += [f"      {line}" + (f" (×{n})" if n > 1 else "") for line, n in shapes.items()]
        return "\n".join(lines)


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("desk"), history=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def register(desk_server):
    """The app's url map and the ids a page needs, from the demo server's own database."""
    from sqlalchemy import func, select

    from fieldapp import create_app
    from fieldapp.extensions import db
    from fieldapp.models import Case, ImportBatch, LegalStep, User

    app = create_app({"DATABASE_URL": desk_server.database_url, "SECRET_KEY": "x"})
    with app.app_context():
        lead = db.session.scalar(select(User).where(User.email == ROLES["lead"]))
        # The lead's case with the most legal steps: the longest case page.
        case = db.session.scalars(
            select(Case)
            .join(LegalStep, LegalStep.case_id == Case.id)
            .where(Case.team_id == lead.team_id)
            .group_by(Case.id)
            .order_by(func.count(LegalStep.id).desc(), Case.id)
        ).first()
        ids = {
            "case_id": case.id,
            "household_id": case.tenancy.household_id,
            "batch_id": db.session.scalar(
                select(func.max(ImportBatch.id)).where(ImportBatch.team_id == lead.team_id)
            ),
        }
    return app, ids


def pages_for(app, role: str, ids: dict) -> tuple[list[str], dict[str, str]]:
    """Every GET page of the url map the role may open, with the ids filled in; and what was
    left out, with the reason."""
    paths, skipped = [], {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        policy = POLICY[rule.endpoint]
        if "GET" not in rule.methods or policy == "public" or role not in policy:
            continue
        if rule.endpoint in NOT_PAGES or rule.endpoint in PHONE_PAGES:
            skipped[rule.rule] = NOT_PAGES.get(rule.endpoint) or PHONE_PAGES[rule.endpoint]
            continue
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{rule.rule}: no id for {missing}; add one to the register fixture"
        path = rule.rule
        for argument in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{argument}>", str(ids[argument]), path)
        paths.append(path)
    return paths, skipped


@pytest.fixture
def desk_for(browser, desk_server):
    contexts = []

    def open_desk(role: str) -> Desk:
        context = browser.new_context(base_url=desk_server.url, locale="en-GB", **LAPTOP)
        context.add_init_script(RECORD_REFUSALS)
        contexts.append(context)
        page = context.new_page()
        log_in(page, ROLES[role])
        expect(page.locator("#logout")).to_be_visible()
        return Desk(page)

    yield open_desk
    for context in contexts:
        context.close()


def make_a_meeting(desk: Desk) -> int:
    """The lead plans a meeting with three partners at the table; its agenda is the demo's
    cases."""
    page = desk.page
    page.goto("/meetings")
    partners = page.locator("#new-meeting input[name=partner]")
    for n in range(min(3, partners.count())):
        partners.nth(n).check()
    page.get_by_role("button", name="Plan the meeting").click()
    expect(page).to_have_url(re.compile(r"/meetings/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def import_a_list(desk: Desk) -> None:
    """The preview and the report of an import are answers to a form, not addresses."""
    page = desk.page
    page.goto("/imports")
    page.locator("summary").click()
    page.get_by_label("Name of the new landlord").fill("Boligforeningen Kronborg Nordkysten")
    page.get_by_label("File (CSV or Excel)").set_input_files(
        str(FIXTURES / "restanceliste_boligforening_2026-11-15.csv")
    )
    desk.console.clear()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Preview")
    desk.check("the import's preview (POST /imports)")
    page.get_by_role("button", name="Confirm and import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Imported")
    desk.check("the import's report (POST /imports/…/confirm)")


@pytest.mark.parametrize("role", ["lead", "admin", "dpo"])
def test_every_page_fits_a_laptop_without_cutting_anything_off(register, desk_for, role):
    app, ids = register
    desk = desk_for(role)
    if role == "lead":
        import_a_list(desk)
        ids = {**ids, "meeting_id": make_a_meeting(desk)}
    paths, skipped = pages_for(app, role, ids)
    # In English, then in Danish: longer words, the lists' own language.
    for language in ("en", "da"):
        if language != "en":
            desk.speak(language)
        for path in paths:
            desk.open(path, language)
    print(f"{role}: {len(desk.problems)} pages checked; not walked: {skipped}")
    expected = {"lead": "/reports", "admin": "/admin/users", "dpo": "/audit/grants"}[role]
    assert expected in desk.problems, sorted(desk.problems)
    assert not any(desk.problems.values()), desk.report()
    words_for_people(desk, role)


def words_for_people(desk: Desk, role: str) -> None:
    """Amounts carry their currency, languages are named, the print button prints, the phone's
    pages keep the phone column (the walk ended in Danish)."""
    page = desk.page
    if role == "lead":
        page.goto("/today")  # the phone's pages keep the phone column, also for a lead
        expect(page.locator("main")).not_to_have_class(re.compile(r"\bdesk\b"))
        page.goto("/cases")
        expect(page.locator("main")).to_have_class(re.compile(r"\bdesk\b"))
        arrears = page.locator("#case-table tbody td.num").all_inner_texts()
        assert arrears and all(re.fullmatch(r"[\d.]+\s?kr\.", a) for a in arrears), arrears
        page.goto("/reports")
        page.evaluate("() => { window.printed = 0; window.print = () => window.printed++; }")
        page.locator("button[data-print]").click()
        assert page.evaluate("() => window.printed") == 1
    if role == "admin":
        page.goto("/admin/consent-texts")
        languages = page.locator("#texts tbody td:first-child").all_inner_texts()
        assert languages and not any(re.fullmatch(r"[a-z]{2,3}", name) for name in languages)
