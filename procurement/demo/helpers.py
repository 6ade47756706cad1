"""Small helpers of the region generator: spreadsheet letters, month arithmetic, rounding, stable files."""

import calendar
import io
import math
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd


def column_letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet column style)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def bell(n: int, centre: float = 0.45) -> np.ndarray:
    if n == 1:
        return np.ones(1)
    x = np.arange(n)
    return np.exp(-0.5 * ((x - centre * (n - 1)) / (0.3 * n)) ** 2)


def nice(x: float) -> float:
    """Round to two significant figures, as an offer letter would."""
    if x <= 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(x)))
    return round(x, digits)


def money(x: float) -> str:
    return f"£{x:,.2f}"


def stable_xlsx(data: bytes, stamp: datetime) -> bytes:
    """The workbook with fixed zip entry times and modified date: same seed, same bytes."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso, body)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()


def write_csv(frame: pd.DataFrame, path: Path, *, sep: str = ",", encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, sep=sep, encoding=encoding, lineterminator="\n")
