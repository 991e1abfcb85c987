"""Spreadsheet files built row by row: CSV (UTF-8 with a byte-order mark, for Excel) streamed as it
is written, XLSX written in openpyxl's write-only mode into a temporary file (rows never pile up
in memory), and the one rule against formula injection for both.

A cell whose text starts with `=`, `+`, `-`, `@` (or a tab or carriage return, which some
spreadsheets skip before reading one of those) is a formula to Excel and LibreOffice. Text that
people typed (an agency's name, a region's name) must never run: in CSV it gets a leading
apostrophe (OWASP's advice; the spreadsheet shows the text), in XLSX it is stored as a string
cell, which a spreadsheet shows as typed and never evaluates.
"""
import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"


def csv_safe(value):
    """A CSV cell that cannot start a formula (numbers, dates and None pass through)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: Iterable, rows: Iterable[Iterable]) -> Iterator[bytes]:
    """The CSV file as byte chunks, the BOM first, one chunk per few hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(c) for c in header])
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    buffer.seek(0), buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if c is None else csv_safe(c) for c in row])
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0), buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def xlsx_file(sheet_title: str, header: Iterable, rows: Iterable[Iterable], title: str | None = None):
    """An XLSX workbook of one sheet (an optional bold title line, a bold header), written row by
    row into a temporary file; returns that file, rewound (the caller sends and closes it)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    bold = Font(bold=True)

    def cell(value, font=None):
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.data_type = "s"  # text is text: never a formula, whatever it starts with
        if font is not None:
            made.font = font
        return made

    if title:
        sheet.append([cell(title, bold)])
    sheet.append([cell(c, bold) for c in header])
    for row in rows:
        sheet.append([cell(c) for c in row])
    out = tempfile.TemporaryFile()
    workbook.save(out)
    out.seek(0)
    return out
