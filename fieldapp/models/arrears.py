"""Imported arrears lists: one batch per import, one record per tenancy per list."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, new_uuid, utcnow


class ImportBatch(db.Model):
    """One imported file: who, when, its hash, the counts and the rejected rows."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # arrears or legal_steps
    landlord_id: Mapped[int | None] = mapped_column(ForeignKey("landlord.id"), index=True)
    # The team whose register the file was imported into; its history is that team's.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[list] = mapped_column(JSON, default=list)


class ArrearsRecord(db.Model):
    """What one landlord list said about one tenancy on one date."""

    __tablename__ = "arrears_record"
    __table_args__ = (UniqueConstraint("tenancy_id", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenancy_id: Mapped[int] = mapped_column(ForeignKey("tenancy.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units; 0 = paid up
    months_in_arrears: Mapped[float | None] = mapped_column(Float)
    monthly_rent: Mapped[int | None] = mapped_column(BigInteger)


class StagedUpload(db.Model):
    """An uploaded list waiting for the lead to confirm its preview (kept in the database so
    any app server can finish the import); removed when imported or after a day."""

    __tablename__ = "staged_upload"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    landlord_id: Mapped[int | None] = mapped_column(ForeignKey("landlord.id"))
    # A landlord the lead is adding with this upload; created only when the import is confirmed.
    landlord_name: Mapped[str] = mapped_column(String(200), default="")
    landlord_kind: Mapped[str] = mapped_column(String(30), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    as_of: Mapped[date | None] = mapped_column(Date)
    # The lead said the list is older than the landlord's last one, on purpose.
    older_list: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
