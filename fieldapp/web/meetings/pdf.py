"""The meeting's agenda and minutes as an A4 PDF (fpdf2, with DejaVu Sans for every script
a tenant's name may be written in)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

FONTS = Path(__file__).parents[2] / "fonts"


def minutes_pdf(
    title: str,
    note: str,
    headings: list[str],
    rows: list[list[str]],
    footer: Callable[[int], str],
) -> bytes:
    """Lay out a titled table on A4 portrait; long cells wrap, rows never split."""

    class Minutes(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.cell(0, 6, footer(self.page_no()), align="R")

    pdf = Minutes(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(12, 15, 12)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", size=8.5)
    with pdf.table(
        col_widths=(30, 42, 56, 38, 20),
        headings_style=FontFace(emphasis="BOLD"),
        line_height=4.5,
        repeat_headings=1,
    ) as table:
        table.row(headings)
        for row in rows:
            table.row(row)
    return bytes(pdf.output())
