"""Each organisation reads partners, landlords and legal steps in its own country's words, in
Danish, Norwegian and English; the services' errors (an import row, a phone's record, a case
change) come in the page's language."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Case, Consent, ConsentText, LegalStep, Organisation
from fieldapp.services.fieldwork import ensure_consent_texts
from tests.integration.test_import_pages import confirm
from tests.support import AuthActions

SYNC = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
# What the case page and the card must show for an eviction date and for the partners, and
# what they must never show, by country and language.
EXPECTED = {
    ("DK", "da"): ("Udsættelse ved fogeden", "Jobcenter"),
    ("DK", "nb"): ("Udsættelse ved fogeden", "Jobcenter"),
    ("DK", "en"): ("Eviction by the bailiff (udsættelse)", "Job centre (jobcenter)"),
    ("NO", "da"): ("Fravikelse ved namsmannen", "NAV"),
    ("NO", "nb"): ("Fravikelse ved namsmannen", "NAV"),
    ("NO", "en"): ("Eviction date set by the enforcement officer (fravikelse)", "NAV"),
}
NEVER = {
    "DK": ("NAV", "Fravikelse ved", "namsmann", "Jobbsenter", "Stønadskontor", "Boligbyggelag"),
    "NO": ("Jobcenter", "Jobbsenter", "Stønadskontor", "fogedret", "Udsættelse ved"),
}


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    # Words, not storage: one database is enough.
    return request.param


@pytest.fixture
def team_a(app, make_user, make_case):
    """A worker and a lead of Team A; a case of the worker's with an eviction date in 9 days
    and a consent stored with Danish and Norwegian kinds (as older data may hold)."""
    worker = make_user("worker", team="Team A")
    lead = make_user("lead", team="Team A")
    case_id = make_case(worker_id=worker.id, team="Team A")
    with app.app_context():
        ensure_consent_texts(db.session)
        case = db.session.get(Case, case_id)

        db.session.add(
            LegalStep(
                case_id=case.id, kind="eviction_scheduled", date=date.today() + timedelta(days=9)
            )
        )
        text = db.session.scalars(select(ConsentText)).first()
        db.session.add(
            Consent(
                client_uuid=str(uuid.uuid4()),
                case_id=case.id,
                worker_id=worker.id,
                state="given",
                scopes=["nav", "job_centre"],
                method="paper",
                text_id=text.id,
                language=text.language,
                witness="",
                signature="",
                recorded_at=datetime.now(UTC),
            )
        )
        db.session.commit()
    return worker, lead, case_id


def _in(app, country: str) -> None:
    with app.app_context():
        for organisation in db.session.scalars(select(Organisation)):
            organisation.country = country
        db.session.commit()


def _client(app, user, lang: str) -> AuthActions:
    client = AuthActions(app.test_client())
    client.login(user.email)
    with client.client.session_transaction() as session:
        session["lang"] = lang
    return client


@pytest.mark.parametrize("country", ["DK", "NO"])
def test_each_country_reads_its_own_words_in_every_language(app, team_a, country):
    worker, lead, case_id = team_a
    _in(app, country)
    for lang in ("da", "nb", "en"):
        eviction, partner = EXPECTED[(country, lang)]
        case_page = _client(app, lead, lang).client.get(f"/cases/{case_id}")
        card = _client(app, worker, lang).client.get(f"/field/cases/{case_id}")
        assert case_page.status_code == 200 and card.status_code == 200
        html = case_page.get_data(as_text=True)
        card_html = card.get_data(as_text=True)
        assert eviction in html, (country, lang)
        assert partner in card_html, (country, lang)
        for word in NEVER[country]:
            assert word not in html, (country, lang, word)
            assert word not in card_html, (country, lang, word)


def test_the_reports_landlord_types_are_each_countrys(app, make_user):
    lead = make_user("lead", team="Team A")
    _in(app, "DK")
    danish = _client(app, lead, "nb").client.get("/reports").get_data(as_text=True)
    _in(app, "NO")
    norwegian = _client(app, lead, "da").client.get("/reports").get_data(as_text=True)
    assert "Almen boligorganisation" in danish and "Boligbyggelag" not in danish
    assert "Boligbyggelag eller boligstiftelse" in norwegian
    assert "Kommunal utleiebolig" in norwegian and "almen" not in norwegian.lower()


def test_a_danish_organisations_stored_nav_reads_as_its_job_centre_and_benefits_office(app, team_a):
    _, lead, case_id = team_a
    _in(app, "DK")
    html = _client(app, lead, "da").client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Jobcenter og ydelseskontor, Jobcenter" in html


def test_the_card_offers_each_countrys_partners(app, team_a):
    worker, _, case_id = team_a
    offered = {}
    for country in ("DK", "NO"):
        _in(app, country)
        html = _client(app, worker, "nb").client.get(f"/field/cases/{case_id}")
        offered[country] = html.get_data(as_text=True)
    nav, job_centre = 'name="scopes" value="nav"', 'name="scopes" value="job_centre"'
    assert nav not in offered["DK"] and job_centre in offered["DK"]
    assert nav in offered["NO"] and job_centre not in offered["NO"]
    assert "Introduksjonssenteret" in offered["NO"] and "Barnevernet" in offered["NO"]
    assert "Ydelseskontor/Borgerservice" in offered["DK"]


BAD_ROW = "Lejemålsnr.;Navn;Adresse;Postnr.;Restance\r\n12-1;Signe Hansen;Stengade 1;3000;12x\r\n"


@pytest.mark.parametrize(
    ("lang", "field", "reason"),
    [
        ("da", "Restance", "ikke et beløb: &#39;12x&#39;"),
        ("nb", "Restanse", "ikke et beløp: &#39;12x&#39;"),
        ("en", "Arrears", "not an amount: &#39;12x&#39;"),
    ],
)
def test_an_import_row_error_names_row_and_field_in_the_page_language(
    app, make_user, lang, field, reason
):
    lead = _client(app, make_user("lead", team="Team A"), lang)
    data = {
        "kind": "arrears",
        "new_landlord": "Boligforeningen Kronborg",
        "new_landlord_kind": "housing_association",
        "file": (io.BytesIO(BAD_ROW.encode()), "restance.csv"),
    }
    preview = lead.post("/imports", data, page="/imports", content_type="multipart/form-data")
    row = f'<tr><td class="num">2</td><td>{field}</td><td><code>12x</code></td><td>{reason}</td>'
    for page in (preview, confirm(lead, preview)):  # the preview, and the stored report
        html = page.get_data(as_text=True)
        assert row in html, html[html.find('id="row-errors"') :][:800]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("da", "Resultat: 'exploded' er ikke en af "),
        ("nb", "Resultat: 'exploded' er ikke en av "),
        ("en", "Result: 'exploded' is not one of "),
    ],
)
def test_a_rejected_record_is_explained_in_the_users_language(app, team_a, lang, words):
    worker, _, case_id = team_a
    record = {
        "uuid": str(uuid.uuid4()),
        "type": "visit",
        "case_id": case_id,
        "data": {"channel": "door", "result": "exploded"},
    }
    client = _client(app, worker, lang).client
    answer = client.post("/sync", json={"records": [record]}, headers=SYNC).get_json()
    (result,) = answer["results"]
    # The machine-readable parts are the same in every language.
    assert (result["status"], result["field"]) == ("rejected", "result")
    assert set(result) == {"uuid", "status", "message", "field"}
    assert result["message"].startswith(words), result["message"]


def test_a_case_change_refused_is_said_in_danish(app, team_a):
    _, lead, case_id = team_a
    client = _client(app, lead, "da")
    with app.app_context():
        version = db.session.get(Case, case_id).version
    answer = client.post(
        f"/cases/{case_id}", {"version": version, "status": "closed"}, page=f"/cases/{case_id}"
    )
    assert answer.status_code == 400
    assert "Vælg udfaldet, når du lukker en sag." in answer.get_data(as_text=True)
