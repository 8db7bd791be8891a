"""What SAML keeps on the server, on both databases: the IDs used once, and the login
sessions a provider's single logout ends."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import SamlMessageUsed, User, UserSession
from fieldapp.models.types import utcnow
from fieldapp.services.accounts import end_provider_sessions, start_session, use_once


def test_an_id_is_used_once_and_expired_ones_are_swept(app):
    later = utcnow() + timedelta(minutes=20)
    with app.app_context():
        assert use_once(db.session, ("request:a", "assertion:b"), later)
        db.session.commit()
        assert not use_once(db.session, ("request:c", "assertion:b"), later)  # b again
        assert not use_once(db.session, ("request:a",), later)
        db.session.rollback()
        db.session.add(SamlMessageUsed(message_id="old", expires_at=utcnow() - timedelta(1)))
        db.session.commit()
        assert use_once(db.session, ("request:d",), later)
        db.session.commit()
        kept = set(db.session.scalars(select(SamlMessageUsed.message_id)))
    assert kept == {"request:a", "assertion:b", "request:d"}


def test_a_caller_s_unit_of_work_survives_a_replay_refusal(app, make_user):
    """use_once refuses inside a savepoint: what the caller had pending is not rolled back."""
    user = make_user("lead")
    later = utcnow() + timedelta(minutes=20)
    with app.app_context():
        use_once(db.session, ("assertion:x",), later)
        db.session.commit()
        person = db.session.get(User, user.id)
        person.name = "Changed before the refusal"
        # "assertion:y" is new, "assertion:x" is not: refused as a whole, y not kept.
        assert not use_once(db.session, ("assertion:y", "assertion:x"), later)
        db.session.commit()
        assert db.session.get(User, user.id).name == "Changed before the refusal"
        assert db.session.get(SamlMessageUsed, "assertion:y") is None


def _session_with(app, user_id, **kept):
    with app.app_context():
        user = db.session.get(User, user_id)
        start_session(db.session, user)
        row = db.session.get(UserSession, user.session_id)
        row.provider_session = json.dumps(kept)
        db.session.commit()
        return row.id


def test_single_logout_ends_only_that_providers_sessions_for_that_organisation(app, make_user):
    one, two = make_user("worker"), make_user("lead")
    idp = "https://n2adgangsstyring.example/idp"
    target = _session_with(app, one.id, text="uuid-1", index="s1", issuer=idp, org=0)
    other_index = _session_with(app, one.id, text="uuid-1", index="s2", issuer=idp, org=0)
    other_issuer = _session_with(app, two.id, text="uuid-1", index="s1", issuer="https://x", org=0)
    other_org = _session_with(app, two.id, text="uuid-1", index="s1", issuer=idp, org=7)
    with app.app_context():
        ended = end_provider_sessions(db.session, idp, 0, "uuid-1", ("s1",))
        db.session.commit()
        open_ids = set(
            db.session.scalars(select(UserSession.id).where(UserSession.ended_at.is_(None)))
        )
    assert ended == [target]
    assert {other_index, other_issuer, other_org} <= open_ids and target not in open_ids
    with app.app_context():
        assert end_provider_sessions(db.session, idp, 0, "uuid-1") == [other_index]
