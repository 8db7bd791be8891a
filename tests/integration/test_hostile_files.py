"""Hostile uploads at the lead's import page: each is refused with a message naming the limit,
nothing is stored or lost, and a list of many bad rows gives a page of bounded size with every
rejected row downloadable as CSV, to the lead whose upload or team's import it is."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, ImportBatch, StagedUpload
from tests import hostile_files as hostile
from tests.integration.test_import_pages import DANISH, confirm, counts, staged_id, upload


def upload_bytes(auth, data: bytes, filename: str, **form):
    fields = {"kind": "arrears", "new_landlord": "Boligforeningen Kronborg", **form}
    fields["file"] = (io.BytesIO(data), filename)
    return auth.post("/imports", fields, page="/imports", content_type="multipart/form-data")


def stored(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def rows_of(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def link(html: str) -> str:
    match = re.search(r'href="([^"]+)" id="rejected-rows-csv"', html)
    assert match, "no download link for the rejected rows"
    return match.group(1).replace("&amp;", "&")


HOSTILE = {
    "sparse": (hostile.sparse_xlsx, "sparse.xlsx", r"column 16,384 \(XFD1048576\)"),
    "zip-bomb": (hostile.zip_bomb_xlsx, "bomb.xlsx", "unpacks to 1,025 MB; at most 128 MB"),
    "wide-row": (hostile.wide_row_xlsx, "wide.xlsx", "Row 2 of a sheet has more than 200 cells"),
    "million-columns": (hostile.wide_csv, "wide.csv", "Line 2 has 1,999,999 characters"),
    "long-line": (hostile.long_line_csv, "long.csv", "Line 2 has 10,485,781 characters"),
    "500k-bad-rows": (
        lambda: hostile.bad_rows_csv(500_000),
        "bad.csv",
        "The file has more than 100,000 rows; at most 100,000 are read.",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_refused_naming_the_limit_and_nothing_is_lost(app, auth, lead, name):
    """Each refused (400) with its limit on the upload page, after a real list was imported:
    that list's cases stay as they were, and neither a batch nor the staged file remains."""
    confirm(auth, upload(auth, DANISH, new_landlord="Boligforeningen Kronborg"))
    assert counts(app) == (40, 40) and stored(app, ImportBatch) == 1
    make, filename, message = HOSTILE[name]
    response = upload_bytes(auth, make(), filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:300]
    assert f"{filename} was refused" in html and re.search(message, html), html[:2000]
    assert counts(app) == (40, 40)
    assert stored(app, ImportBatch) == 1 and stored(app, StagedUpload) == 0


def bad_rows_preview(auth, bad: int):
    response = upload_bytes(auth, hostile.bad_rows_csv(bad), "bad.csv")
    assert response.status_code == 200
    return response


def test_many_bad_rows_show_the_first_100_and_the_rest_as_a_count(app, auth, lead):
    """5,000 bad rows: 100 listed, "…and 4,900 more problems.", and a page no larger than
    the one for 150 bad rows (the HTML stays bounded whatever the count)."""
    html = bad_rows_preview(auth, 5_000).get_data(as_text=True)
    listed = re.findall(r"<tr><td class=\"num\">(\d+)</td>", html)
    assert listed == [str(n) for n in range(4, 104)]  # rows 2 and 3 are the good ones
    assert 'id="count-rejected">5000<' in html
    assert "…and 4,900 more problems." in html
    small = bad_rows_preview(auth, 150).get_data(as_text=True)
    assert "…and 50 more problems." in small
    assert abs(len(html) - len(small)) < 300, (len(html), len(small))
    assert len(html) < 40_000


def test_long_values_are_cut_on_the_page_and_whole_in_the_download(app, auth, lead):
    """A 30,000-character bad cell takes a line on the page, all of itself in the CSV."""
    preview = upload_bytes(auth, hostile.bad_rows_csv(1, value="x" * 30_000), "long.csv")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<code>" + "x" * 79 + "…</code>" in html
    assert "x" * 200 not in html  # nor is the reason, which quotes the value
    assert len(html) < 20_000
    rows = rows_of(auth.client.get(link(html)))
    assert rows[1][2] == "x" * 30_000


def test_the_preview_download_lists_every_rejected_row_safely(app, auth, lead):
    """Row, field, value, reason for all 5,000, not cached, formulas defused, audited without
    the values; and nothing is stored by it."""
    html = bad_rows_preview(auth, 5_000).get_data(as_text=True)
    response = auth.client.get(link(html))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = rows_of(response)
    assert rows[0] == ["row", "field", "value", "reason"]
    assert len(rows) == 1 + 5_000
    assert rows[1] == ["4", "arrears", "'=1+2", "not an amount: '=1+2'"]
    assert counts(app) == (0, 0) and stored(app, ImportBatch) == 0
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
        assert (event.object_type, event.detail) == ("staged_upload", "5000 rejected rows")


def test_the_preview_download_follows_the_leads_column_choices(app, auth, lead):
    """Re-mapped on the preview, the download lists what that preview rejected."""
    lines = ["Lejemålsnr.;Adresse;Restance;Beløb"]
    lines += [f"R-{n};Vej {n};oops;{'1.000,00' if n <= 15 else 'bad'}" for n in range(1, 21)]
    response = upload_bytes(auth, ("\r\n".join(lines) + "\r\n").encode(), "liste.csv")
    html = response.get_data(as_text=True)
    assert 'id="count-rejected">20<' in html  # "Restance" is read as the arrears
    assert len(rows_of(auth.client.get(link(html)))) == 1 + 20
    choices = {
        "Lejemålsnr.": "tenancy_ref",
        "Adresse": "address",
        "Restance": "",  # ignored
        "Beløb": "arrears",
    }
    again = auth.post(
        f"/imports/{staged_id(response)}/preview",
        {"header": list(choices), "field": list(choices.values())},
        page="/imports",
    )
    html = again.get_data(as_text=True)
    assert 'id="count-rejected">5<' in html
    rows = rows_of(auth.client.get(link(html)))
    assert [row[:3] for row in rows[1:]] == [[str(n + 1), "arrears", "bad"] for n in range(16, 21)]


def test_after_confirming_the_report_is_bounded_and_the_batch_downloadable(app, auth, lead):
    """The report page lists 100 of 5,000 too; the batch's full list is a download."""
    preview = bad_rows_preview(auth, 5_000)
    report = confirm(auth, preview)
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and "…and 4,900 more problems." in html
    assert len(html) < 40_000 and counts(app) == (2, 2)
    with app.app_context():
        batch_id = db.session.scalars(select(ImportBatch.id)).one()
    assert link(html) == f"/imports/batches/{batch_id}/rejected-rows.csv"
    response = auth.client.get(link(html))
    assert response.headers["Cache-Control"] == "no-store"
    rows = rows_of(response)
    assert len(rows) == 1 + 5_000 and rows[-1][:3] == ["5003", "arrears", "'=1+2"]


def test_only_the_leads_own_upload_and_teams_imports_are_downloadable(
    app, auth, lead, make_user, client
):
    """Another team's lead gets 404 for both downloads, a worker of the team 403."""
    preview = bad_rows_preview(auth, 3)
    staged_url = link(preview.get_data(as_text=True))
    batch_url = link(confirm(auth, bad_rows_preview(auth, 4)).get_data(as_text=True))
    assert auth.client.get(staged_url).status_code == 200
    assert auth.client.get(batch_url).status_code == 200
    auth.logout()
    auth.login(make_user("lead", team="Team B").email)
    assert auth.client.get(staged_url).status_code == 404
    assert auth.client.get(batch_url).status_code == 404
    auth.logout()
    auth.login(make_user("lead", team="Team A").email)  # the same team, another lead
    assert auth.client.get(staged_url).status_code == 404  # a staged file is its lead's own
    assert auth.client.get(batch_url).status_code == 200  # an import is the team's
    auth.logout()
    auth.login(make_user("worker", team="Team A").email)
    assert auth.client.get(batch_url).status_code == 403
    assert stored(app, Case) == 2
