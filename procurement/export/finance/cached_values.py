"""Cached values for the workbook's formulas, so a preview or a script sees the figures.

openpyxl writes a formula with an empty cached value (``<f>SUM(..)</f><v/>``): Excel
recalculates on opening (``fullCalcOnLoad``), but a mail or Teams preview, Quick Look,
or ``openpyxl.load_workbook(data_only=True)`` read the cached value and see blanks.

How the values are filled in: LibreOffice (``soffice --headless --convert-to xlsx``)
recalculates a copy of the workbook in a temporary directory; the values it computed
are read back with openpyxl and written into *our* file as each formula's cached value
(the ``<v>`` of the formula cells in the sheet XML, nothing else touched). Our file
keeps its own charts, styles, print setup and formulas; only the cached values come
from a real spreadsheet engine, so they are what Excel will show. Measured on the
demo region's workbook (10 sheets, 2 charts): 2.5 s with LibreOffice already on disk
cache, about 5 s cold; writing the workbook itself takes under a second.

Why not the alternatives: XlsxWriter can store a value beside a formula, but every
sheet module writes through openpyxl (styles, charts, validation) and would have to be
rewritten, and we would still have to compute each value ourselves; computing the
values ourselves means a second implementation of every formula (SUMPRODUCT over
criteria, running sums for the waterfall), which is exactly what the formulas are
there to let a finance team audit. LibreOffice's own output file is not kept: it
rewrites charts and styles in its own way.

Without LibreOffice (``soffice`` not on PATH, or ``PROCURE_SOFFICE=none``) the export
still works: the file then holds the formulas with empty cached values, Excel and
LibreOffice compute them on opening, and a preview shows blanks; the export says so.
``PROCURE_SOFFICE=/path/to/soffice`` chooses the binary.
"""

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import openpyxl

SOFFICE_ENV = "PROCURE_SOFFICE"
TIMEOUT_SECONDS = 180
_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f>(?:<v\s*/>|<v></v>)</c>', re.S)


def soffice_path() -> str | None:
    """The LibreOffice binary to recalculate with, or None (not installed, or turned off)."""
    chosen = os.environ.get(SOFFICE_ENV, "").strip()
    if chosen.lower() in ("none", "off", "0"):
        return None
    if chosen:
        return chosen if shutil.which(chosen) else None
    return shutil.which("soffice") or shutil.which("libreoffice")


def add_cached_values(path: Path) -> str:
    """Fill in the cached value of every formula in workbook ``path`` (in place).

    Returns what the file holds: ``"values computed by LibreOffice"`` or, when
    LibreOffice is absent or fails, ``"formulas only: ..."`` with the reason.
    """
    soffice = soffice_path()
    if soffice is None:
        return "formulas only: LibreOffice (soffice) not found, so a preview shows blanks until Excel recalculates"
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="procure-recalc-") as tmp:
        tmp_dir = Path(tmp)
        source = tmp_dir / "in" / path.name
        source.parent.mkdir()
        shutil.copyfile(path, source)
        try:
            completed = subprocess.run(
                [
                    soffice,
                    f"-env:UserInstallation={(tmp_dir / 'profile').as_uri()}",  # no clash with a running LibreOffice
                    "--headless",
                    "--calc",
                    "--convert-to",
                    "xlsx",
                    "--outdir",
                    str(tmp_dir / "out"),
                    str(source),
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"formulas only: LibreOffice did not recalculate ({type(exc).__name__})"
        converted = tmp_dir / "out" / path.name
        if not converted.exists():
            return f"formulas only: LibreOffice did not recalculate (exit {completed.returncode})"
        values = _formula_values(converted)
    _write_cached_values(path, values)
    return "values computed by LibreOffice"


def _formula_values(recalculated: Path) -> dict[str, dict[str, object]]:
    """Per sheet name, every cell's value as LibreOffice computed it."""
    wb = openpyxl.load_workbook(recalculated, data_only=True, read_only=True)
    try:
        return {
            ws.title: {
                cell.coordinate: cell.value
                for row in ws.iter_rows()
                for cell in row
                if getattr(cell, "value", None) is not None
            }
            for ws in wb.worksheets
        }
    finally:
        wb.close()


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part in the archive (through the workbook's relationships)."""
    workbook = archive.read("xl/workbook.xml").decode("utf-8")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = {
        m.group("id"): m.group("target")
        for m in re.finditer(r'<Relationship [^>]*?Target="(?P<target>[^"]+)"[^>]*?Id="(?P<id>[^"]+)"', rels)
    }
    targets |= {
        m.group("id"): m.group("target")
        for m in re.finditer(r'<Relationship [^>]*?Id="(?P<id>[^"]+)"[^>]*?Target="(?P<target>[^"]+)"', rels)
    }
    parts = {}
    for m in re.finditer(r'<sheet [^>]*?name="(?P<name>[^"]+)"[^>]*?r:id="(?P<id>[^"]+)"', workbook):
        target = targets[m.group("id")]
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        parts[_unescape(m.group("name"))] = part
    return parts


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _cached(attrs: bytes, value: object) -> tuple[bytes, bytes]:
    """(the cell's attributes with its type, the ``<v>`` element) for one computed value."""
    attrs = re.sub(rb'\s+t="[^"]*"', b"", attrs)
    if isinstance(value, bool):
        return attrs + b' t="b"', b"<v>%d</v>" % int(value)
    if isinstance(value, int | float):
        return attrs, f"<v>{value!r}</v>".encode()
    text = str(value)
    if text.startswith("#"):  # an error value such as #DIV/0!
        return attrs + b' t="e"', f"<v>{escape(text)}</v>".encode()
    return attrs + b' t="str"', f"<v>{escape(text)}</v>".encode()


def _write_cached_values(path: Path, values: dict[str, dict[str, object]]) -> None:
    """Rewrite ``path`` with each formula cell's ``<v>`` set from ``values`` (all other parts copied)."""
    with zipfile.ZipFile(path) as archive:
        parts = {part: name for name, part in _sheet_parts(archive).items()}
        items = [(info, archive.read(info.filename)) for info in archive.infolist()]

    def fill(sheet_values: dict[str, object]):
        def one(m: re.Match) -> bytes:
            ref, attrs, formula = m.group(1).decode(), m.group(2), m.group(3)
            if sheet_values.get(ref) is None:
                return m.group(0)
            attrs, v = _cached(attrs, sheet_values[ref])
            return b'<c r="' + m.group(1) + b'"' + attrs + b"><f>" + formula + b"</f>" + v + b"</c>"

        return one

    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            sheet = parts.get(info.filename)
            if sheet is not None and sheet in values:
                data = _FORMULA_CELL.sub(fill(values[sheet]), data)
            out.writestr(info, data)
    os.replace(tmp, path)


__all__ = ["SOFFICE_ENV", "add_cached_values", "soffice_path"]
