"""The lead's upload page: preview stores nothing, confirm imports and saves the mapping,
refused files are named, and a partial list cannot mark everyone paid up by accident."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Case, ImportBatch, Landlord, Tenancy

FIXTURES = Path(__file__).parents[1] / "fixtures"
DANISH = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
PARTIAL = FIXTURES / "bad_restanceliste_mixed_errors.csv"


def upload(auth, path: Path, **form):
    data = {"kind": "arrears", **form, "file": (io.BytesIO(path.read_bytes()), path.name)}
    return auth.post("/imports", data, page="/imports", content_type="multipart/form-data")


def staged_id(response) -> str:
    match = re.search(r"/imports/([0-9a-f-]{36})/confirm", response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def confirm(auth, response, follow=True, **extra):
    html = response.get_data(as_text=True)
    headers = re.findall(r'name="header" value="([^"]*)"', html)
    fields = re.findall(r'<select name="field"[^>]*>.*?</select>', html, re.S)
    chosen = [(re.search(r'value="([^"]*)" selected', f) or [None, ""])[1] for f in fields]
    data = {"header": headers, "field": chosen, **extra}
    answer = auth.post(f"/imports/{staged_id(response)}/confirm", data, page="/imports")
    if follow and answer.status_code == 303:  # post/redirect/get: the result at its own address
        assert answer.headers["Location"].startswith("/imports/batches/")
        return auth.client.get(answer.headers["Location"])
    return answer


def counts(app) -> tuple[int, int]:
    with app.app_context():
        cases = db.session.scalar(select(func.count()).select_from(Case))
        in_arrears = db.session.scalar(
            select(func.count()).select_from(Tenancy).where(Tenancy.current_arrears > 0)
        )
        return cases, in_arrears


def test_preview_stores_nothing_and_confirm_imports(app, auth, lead):
    preview = upload(
        auth,
        DANISH,
        new_landlord="Boligforeningen Kronborg",
        new_landlord_kind="housing_association",
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="count-new">40<' in html
    assert counts(app) == (0, 0)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Landlord)) == 0
    done = confirm(auth, preview)
    assert done.status_code == 200 and 'id="count-new">40<' in done.get_data(as_text=True)
    assert counts(app) == (40, 40)
    with app.app_context():
        landlord = db.session.scalars(select(Landlord)).one()
        assert landlord.column_mapping and landlord.mapping_confirmed_at is not None
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_a_refused_file_is_named_and_nothing_stored(app, auth, lead, tmp_path):
    empty = tmp_path / "tom.csv"
    empty.write_bytes(b"")
    response = upload(auth, empty, new_landlord="X")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "tom.csv was refused" in html
    assert "The file is empty." in html
    assert counts(app) == (0, 0)


def test_upload_form_problems_are_named(auth, lead):
    no_landlord = upload(auth, DANISH)
    assert no_landlord.status_code == 400
    assert "Choose the landlord" in no_landlord.get_data(as_text=True)
    bad_date = upload(auth, DANISH, new_landlord="X", as_of="15/11/2026")
    assert bad_date.status_code == 400 and "15/11/2026" in bad_date.get_data(as_text=True)


def test_a_partial_list_must_be_confirmed_as_complete(app, auth, lead):
    confirm(auth, upload(auth, DANISH, new_landlord="Boligforeningen Kronborg"))
    with app.app_context():
        landlord_id = db.session.scalars(select(Landlord.id)).one()
    preview = upload(auth, PARTIAL, landlord=str(landlord_id))
    assert 'id="mass-clear"' in preview.get_data(as_text=True)
    refused = confirm(auth, preview)
    assert refused.status_code == 400
    assert "Tick that this is the landlord" in refused.get_data(as_text=True)
    assert counts(app) == (40, 40)  # nothing cleared
    accepted = confirm(auth, refused, complete_list="1")
    assert accepted.status_code == 200
    cases, in_arrears = counts(app)
    assert in_arrears < 40


def test_htmx_upload_problems_are_shown_not_swallowed(auth, lead, tmp_path):
    empty = tmp_path / "tom.csv"
    empty.write_bytes(b"")
    token = auth.csrf("/imports")
    response = auth.client.post(
        "/imports",
        data={"kind": "arrears", "new_landlord": "X", "file": (io.BytesIO(b""), "tom.csv")},
        headers={"HX-Request": "true", "X-CSRFToken": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and "tom.csv was refused" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-1"])
def test_odd_numbers_in_forms_are_refused_not_500(auth, lead, make_case, value):
    case = make_case()
    responses = [
        auth.post("/cases", {"worker": value, "landlord": value}, page="/cases"),
        auth.post("/cases/assign", {"case": value, "worker": value}, page="/cases"),
        auth.post(f"/cases/{case}", {"version": value, "status": "new"}, page=f"/cases/{case}"),
        auth.post(f"/cases/{case}/assign", {"worker": value}, page=f"/cases/{case}"),
        upload(auth, DANISH, landlord=value),
    ]
    assert all(r.status_code in (200, 400) for r in responses), [r.status_code for r in responses]


def test_after_an_import_the_positions_are_found_with_progress(app, auth, lead, tmp_path):
    import threading
    from http.server import ThreadingHTTPServer

    from tests.integration.test_geocoding import FakeNominatim, settings  # noqa: F401

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.config.update(settings(f"http://127.0.0.1:{server.server_address[1]}"))
        rows = ["Lejemålsnr.;Navn;Adresse;Postnr.;By;Restance"]
        rows += [f"G-{n};Lejer {n};Stengade {n};3000;Helsingør;1.000,00" for n in range(1, 13)]
        rows += [
            "G-90;Lejer 90;Ingenvej 9;3000;Helsingør;1.000,00",
            "G-91;Lejer 91;Karl Johans gate 1;0154;Oslo;1.000,00",
        ]
        path = tmp_path / "liste.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        report = confirm(auth, upload(auth, path, new_landlord="Nord"))
        html = report.get_data(as_text=True)
        assert "14 addresses have no position yet" in html and 'id="geocode-start"' in html
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        with app.app_context():
            from fieldapp.models import Household, Organisation, Team

            for organisation in db.session.scalars(select(Organisation)):
                organisation.office_lat, organisation.office_lon = 56.0361, 12.6136
            # Neither another team's household nor one anonymised by the retention job (its
            # address blanked) is this lead's to place: not counted, not looked up, not listed.
            own = db.session.scalar(select(Team).where(Team.name == "Team A"))
            other = Team(name="Team B", organisation_id=own.organisation_id)
            db.session.add(other)
            db.session.flush()
            for team, address in ((other, "Fremmedvej 1"), (own, "")):
                db.session.add(
                    Household(
                        team_id=team.id,
                        name="",
                        name_key="",
                        address=address,
                        address_key=address.lower(),
                        postcode="3000",
                        town="Helsingør",
                    )
                )
            db.session.commit()
        html = auth.client.get(report.request.path).get_data(as_text=True)
        assert "14 addresses have no position yet" in html
        data = {"total": "14"}
        seen_counts, problems = [], []
        for _ in range(10):
            response = auth.client.post(
                "/imports/geocode", data=data, headers={"HX-Request": "true", "X-CSRFToken": token}
            )
            fragment = response.get_data(as_text=True)
            seen_counts.append(re.search(r"(\d+) of 14 addresses", fragment).group(1))
            problems += re.findall(r"<li>(.*?)</li>", fragment, re.S)
            after = re.search(r'name="after" value="(\d+)"', fragment)
            if after is None:
                assert 'id="geocode-done"' in fragment
                break
            data = {"after": after.group(1), "done": seen_counts[-1], "total": "14"}
        assert seen_counts == ["10", "14"]
        assert len(problems) == 2
        assert any("Ingenvej" in p and "does not know" in p for p in problems)
        assert any("Karl Johans" in p and "too far" in p for p in problems)
        with app.app_context():
            from fieldapp.models import Household

            placed = db.session.scalars(
                select(Household.address).where(Household.lat.is_not(None))
            ).all()
            assert sorted(placed) == sorted(f"Stengade {n}" for n in range(1, 13))
            assert not any("Fremmedvej" in p for p in problems)
    finally:
        server.shutdown()
        server.server_close()


def test_two_uploads_naming_the_same_new_landlord_both_import(app, auth, lead):
    """The second confirm finds the landlord the first created (it was a 500: the name twice)."""
    first = upload(auth, DANISH, new_landlord="Boligforeningen Kronborg")
    second = upload(auth, PARTIAL, new_landlord="Boligforeningen Kronborg")
    assert confirm(auth, first).status_code == 200
    assert confirm(auth, second, complete_list="1").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Landlord)) == 1
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 2


def test_the_import_result_has_its_own_address_that_a_reload_shows_again(app, auth, lead):
    preview = upload(
        auth,
        DANISH,
        new_landlord="Boligforeningen Kronborg",
        new_landlord_kind="housing_association",
    )
    done = confirm(auth, preview, follow=False)
    assert done.status_code == 303
    address = done.headers["Location"]
    first, reload = auth.client.get(address), auth.client.get(address)
    assert first.status_code == reload.status_code == 200

    # The same page both times, but for the CSRF token, which is signed with the time (a reload
    # in the next second gets a new one).
    def without_token(response):
        return re.sub(
            r'(csrf[-_]token"? (?:value|content)=")[^"]+', r"\1", response.get_data(as_text=True)
        )

    assert without_token(first) == without_token(reload)
    assert 'id="count-new"' in first.get_data(as_text=True)
    with app.app_context():
        batch = db.session.scalar(select(ImportBatch))
        new = batch.counts["new"]
    assert f'<dd id="count-new">{new}</dd>' in first.get_data(as_text=True)
