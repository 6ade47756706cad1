"""Does a file belong to the entity it is imported for? Checked before anything is written.

Usage files (``check_usage_owner``), in order of certainty; the first that fires refuses
the file, naming both trusts and how to import it correctly:

1. **the same file**: identical bytes (sha256) already imported, not reverted, as
   another trust's usage;
2. **its own trust column** (``trust``, ``trust_code``, ``ods_code``...), where it has
   one, names another trust on any row;
3. **the same order lines**: at least ``SAME_LINES_SHARE`` of its rows (SKU, date,
   quantity and unit price all equal) are already stored as another trust's usage;
4. **its item mix**: the cosine similarity between the file's units per SKU and each
   trust's usage history (units per SKU over everything stored). Trusts in one region
   buy from the same suppliers but in different mixes: in the demo region two trusts'
   histories score 0.06 to 0.51 and a trust's own export scores above 0.9 against its
   history. Refused when the named trust has a history (``MIN_HISTORY_SKUS`` SKUs)
   scoring at most ``OWN_AT_MOST`` (naming another trust when one scores at least
   ``OTHER_AT_LEAST``: the file is that trust's); or, for a trust with no history yet,
   when another trust scores at least ``FIRST_FILE_OTHER_AT_LEAST`` (practically that
   trust's purchases). A file merely unlike its own trust's history, and like no other
   trust's, is accepted: a trust that moves onto a regional range buys a new mix (its
   post-award actuals are exactly that). Files of fewer
   than ``MIN_ROWS`` matched rows are too small to judge. A trust may genuinely come
   to buy like another (a regional range does that): ``confirm_trust`` skips this rule
   only; rules 1 to 3 are facts, not likelihoods.

Reference files (``check_reference_shape``, ``check_reference_codes``): a trusts file
with a supplier file's columns (a GS1 prefix, headings naming suppliers), or whose codes
are mostly the existing supplier codes and none an existing trust's, is refused; and
the reverse for a suppliers file.
"""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session, col

from catalogues.normalise import clean_text
from catalogues.read import FileFormatError, TableSpec, heading_key, read_table
from procurement.errors import InputFileError
from procurement.importers.core import iso_dates
from procurement.importers.replaced import not_reverted
from procurement.models import DataImport, Supplier, Trust, Usage
from procurement.reference import core_execute, frame

MIN_ROWS = 20
MIN_HISTORY_SKUS = 20
OWN_AT_MOST = 0.5
OTHER_AT_LEAST = 0.8
FIRST_FILE_OTHER_AT_LEAST = 0.95
SAME_LINES_SHARE = 0.5
TRUST_COLUMN_ALIASES = ["trust_code", "ods_code", "org_code", "organisation_code", "provider_code"]

# Headings only a suppliers (or only a trusts) file has.
# (as ``catalogues.read.heading_key`` spells them: lower case, letters and digits only)
SUPPLIER_SIGNS = {"gs1prefix", "gs1", "companyprefix", "suppliercode", "supplier", "suppliername"}
TRUST_SIGNS = {"region", "trustcode", "odscode", "trust", "trustname"}
SHARE_OF_OTHER_CODES = 0.5


def _how_to(trust: str, file: str) -> str:
    return f"import it with `procure import usage {file} --trust {trust}`"


def _same_file(session: Session, sha: str, trust_id: int) -> tuple[int, str] | None:
    row = session.execute(
        select(col(DataImport.id), col(Trust.code))
        .join(Trust, col(Trust.id) == col(DataImport.trust_id))
        .where(
            col(DataImport.kind) == "usage",
            col(DataImport.sha256) == sha,
            col(DataImport.trust_id) != trust_id,
            not_reverted(),
        )
        .order_by(col(DataImport.id))
    ).first()
    return None if row is None else (row[0], row[1])


def _stored_lines(session: Session, trust_id: int, file_keys: pd.DataFrame, *, imports: bool = False) -> pd.DataFrame:
    """Other trusts' usage rows that may equal one of ``file_keys`` (item_id, period, quantity, price).

    trust_id, item_id, period, quantity, unit_price_paid (and import_id with
    ``imports``). SQLite: only the rows of the same SKU, date and quantity whose price is
    within a penny of the file's (a superset of the rows whose price rounds to it; the
    caller compares exactly), found by joining the file's distinct keys (one JSON array)
    in SQL. Fetching every row of the file's SKUs and months instead grew with the
    region: most of a national usage import's time. Without ``imports`` the order-line
    index alone answers (no row of the table is read), and the rows are read on the
    DB-API cursor: a national region's trusts share many order lines (one unit of a SKU
    at its catalogue price), and SQLAlchemy's processing of each row cost more than the
    query. Elsewhere: the rows of the file's SKUs within its months.
    """
    columns = ["trust_id", "item_id", "period", "quantity", "unit_price_paid"] + (["import_id"] if imports else [])
    if session.get_bind().dialect.name != "sqlite":
        return frame(
            session,
            select(*(getattr(Usage, c) for c in columns)).where(
                col(Usage.trust_id) != trust_id,
                col(Usage.item_id).in_(sorted(set(file_keys["item_id"]))),
                col(Usage.period) >= min(file_keys["period"]),
                col(Usage.period) <= max(file_keys["period"]),
            ),
        )
    # The distinct keys in first-seen order (as drop_duplicates), built from plain lists.
    distinct = dict.fromkeys(
        zip(
            file_keys["item_id"].to_numpy(dtype=np.int64).tolist(),
            iso_dates(file_keys["period"]).tolist(),  # stored as ISO text (SQLAlchemy's Date)
            file_keys["quantity"].to_numpy(dtype=float).tolist(),
            file_keys["price"].to_numpy(dtype=float).tolist(),
            strict=True,
        )
    )
    session.flush()  # (as core_execute: the ORM's pending rows first)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        # The keys go into a temporary table (this connection's, emptied each time; the
        # transaction's rollback empties it too): binding them costs less than writing
        # and parsing them as JSON. Its columns have no type, so that the values keep
        # theirs (as json_extract's did) and compare with the usage columns as such.
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS usage_file_key (item_id, period, quantity, price)")
        cursor.execute("DELETE FROM temp.usage_file_key")
        cursor.executemany("INSERT INTO temp.usage_file_key VALUES (?, ?, ?, ?)", distinct)
        cursor.execute(_SQLITE_STORED_LINES.format(", ".join(f"usage.{c}" for c in columns)), (trust_id,))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    stored = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    # Dates as SQLAlchemy reads a Date column (stored as ISO text), each distinct one once.
    days = {text: dt.date.fromisoformat(text) for text in set(stored["period"])}
    return stored.assign(period=stored["period"].map(days).astype(object))


_SQLITE_STORED_LINES = """
SELECT {}
FROM temp.usage_file_key AS file_key CROSS JOIN usage
WHERE usage.item_id = file_key.item_id AND usage.period = file_key.period
    AND usage.quantity = file_key.quantity AND abs(usage.unit_price_paid - file_key.price) < 0.01
    AND usage.trust_id != ?
"""


def _line_hits(file_keys: pd.DataFrame, stored: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The file's rows (``row``) equal to a stored row: same SKU, date, quantity and price to the penny."""
    keys = ["item_id", "period", "quantity", "price"]
    stored = stored.assign(price=stored["unit_price_paid"].round(2), item_id=stored["item_id"].astype(int))
    file_keys = file_keys.assign(item_id=file_keys["item_id"].astype(int), row=np.arange(len(file_keys)))
    return file_keys[keys + ["row"]].merge(stored[keys + list(columns)], on=keys)


def _same_order_lines(session: Session, trust_id: int, rows: pd.DataFrame) -> tuple[str, float, list[int]] | None:
    """(trust, share of the file's rows, its imports) of the trust already holding most of these order lines.

    A row is held by a trust when that trust has a usage row of the same SKU, date,
    quantity and unit price (rounded to the penny). The imports are looked up only when
    the share reaches ``SAME_LINES_SHARE`` (the file is refused; they are named): a
    national region's trusts share many order lines (one unit of a SKU at its
    catalogue price), and reading the import of each from the table cost more than the
    rest of the check.
    """
    file_keys = rows.assign(
        price=rows["unit_price_paid"].astype(float).round(2), quantity=rows["quantity"].astype(float)
    )
    stored = _stored_lines(session, trust_id, file_keys)
    if stored.empty:
        return None
    codes = dict(core_execute(session, select(col(Trust.id), col(Trust.code))).all())
    hits = _line_hits(file_keys, stored.assign(trust=stored["trust_id"].map(codes)), "trust", "trust_id")
    if hits.empty:
        return None
    share = hits.groupby("trust")["row"].nunique() / len(rows)
    trust = share.idxmax()
    if share[trust] < SAME_LINES_SHARE:
        return trust, float(share[trust]), []
    theirs = int(hits.loc[hits["trust"] == trust, "trust_id"].iloc[0])
    held = _stored_lines(session, trust_id, file_keys, imports=True)
    imports = _line_hits(file_keys, held[held["trust_id"] == theirs], "import_id")["import_id"]
    return trust, float(share[trust]), sorted(set(imports.astype(int)))


def _mix_similarity(session: Session, rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(cosine similarity of the file's units per SKU with each trust's history, SKUs in each history).

    The history is what each trust bought before the file's first date: usage of the
    same later months is compared row by row (rule 3), and comparing a trust's new
    months with the others' new months would confuse trusts that all moved onto one
    regional range.
    """
    first = pd.to_datetime(rows["period"]).min().date()
    history = frame(
        session,
        select(col(Trust.code).label("trust"), col(Usage.item_id), func.sum(col(Usage.quantity)).label("units"))
        .join(Trust, col(Trust.id) == col(Usage.trust_id))
        .where(col(Usage.period) < first)
        .group_by(col(Trust.code), col(Usage.item_id)),
    )
    if history.empty:
        return pd.Series(dtype=float), pd.Series(dtype=int)
    by_trust = history.pivot_table(index="trust", columns="item_id", values="units", aggfunc="sum", fill_value=0.0)
    mine = rows.groupby(rows["item_id"].astype(int))["quantity"].sum().astype(float)
    mine = mine.reindex(by_trust.columns.union(mine.index), fill_value=0.0)
    by_trust = by_trust.reindex(columns=mine.index, fill_value=0.0)
    norms = np.sqrt((by_trust**2).sum(axis=1)) * np.sqrt((mine**2).sum())
    similarity = (by_trust @ mine) / norms.replace(0, np.nan)
    return similarity.fillna(0.0), (by_trust > 0).sum(axis=1)


def check_usage_owner(
    session: Session,
    *,
    trust: str,
    trust_id: int,
    sha: str,
    file: str,
    table: pd.DataFrame,
    usage: pd.DataFrame,
    confirm_trust: bool = False,
) -> None:
    """Refuse (``InputFileError``) a usage file that belongs to another trust; rules in the module docstring.

    ``table`` is the file as read (for its trust column), ``usage`` its usable rows
    (item_id, period, quantity, unit_price_paid).
    """
    same = _same_file(session, sha, trust_id)
    if same:
        import_id, other = same
        raise InputFileError(
            f"{file}: this exact file is already imported as {other}'s usage (import #{import_id}), so it cannot "
            f"also be {trust}'s. If it is {trust}'s, undo that with `procure imports revert {import_id}`, then "
            f"{_how_to(trust, file)}. Nothing was written."
        )
    if "trust" in table:
        codes = clean_text(table["trust"]).str.upper()
        others = codes[(codes != "") & (codes != trust)].value_counts()
        if len(others):
            said = ", ".join(f"{code} ({n} rows)" for code, n in others.items())
            first = others.index[0]
            raise InputFileError(
                f"{file}: its trust column says {said}, not {trust}. If it is {first}'s usage, "
                f"{_how_to(first, file)}; a file of several trusts must be split into one file per trust. "
                "Nothing was written."
            )
    if len(usage) < MIN_ROWS:
        return
    lines = _same_order_lines(session, trust_id, usage)
    if lines and lines[1] >= SAME_LINES_SHARE:
        other, share, imports = lines
        raise InputFileError(
            f"{file}: {share:.0%} of its rows (same SKU, date, quantity and price) are already stored as "
            f"{other}'s usage (import #{', #'.join(map(str, imports))}): it looks like {other}'s file, not "
            f"{trust}'s. If it is {other}'s, {_how_to(other, file)}. Nothing was written."
        )
    if confirm_trust:
        return
    similarity, skus = _mix_similarity(session, usage)
    others = similarity.drop(trust, errors="ignore")
    if others.empty:
        return
    other = others.idxmax()
    own = float(similarity.get(trust, 0.0))
    has_history = int(skus.get(trust, 0)) >= MIN_HISTORY_SKUS
    like_other = others[other] >= (OTHER_AT_LEAST if has_history else FIRST_FILE_OTHER_AT_LEAST)
    if like_other and (own <= OWN_AT_MOST or not has_history):
        mine = f"{own:.2f} with {trust}'s" if has_history else f"{trust} has no usage history yet"
        raise InputFileError(
            f"{file}: its item mix looks like {other}'s usage, not {trust}'s (similarity of units per SKU "
            f"{others[other]:.2f} with {other}'s history; {mine}). If it is {other}'s, {_how_to(other, file)}; "
            f"if it really is {trust}'s, add --confirm-trust. Nothing was written."
        )


def _shape_signs(path: Path, spec: TableSpec, signs: set[str]) -> list[str]:
    """The file's headings (as written) that only a file of ``spec``'s kind has."""
    try:
        headings = read_table(path, spec).attrs.get("headings", {})
    except (FileFormatError, OSError, ValueError):
        return []
    return sorted(h for h in headings.values() if heading_key(h) in signs)


def check_reference_shape(path: Path, kind: str, other_spec: TableSpec) -> None:
    """Refuse a trusts file laid out as a suppliers file, or the reverse (by its headings)."""
    other = "suppliers" if kind == "trusts" else "trusts"
    found = _shape_signs(path, other_spec, SUPPLIER_SIGNS if kind == "trusts" else TRUST_SIGNS)
    if found:
        raise InputFileError(
            f"{Path(path).name}: this looks like a {other} file (column(s) {', '.join(found)}), not a {kind} "
            f"file. Import it with `procure import {other} {Path(path).name}`. Nothing was written."
        )


def check_reference_codes(session: Session, kind: str, codes: pd.Series, file: str) -> None:
    """Refuse a trusts file whose codes are the existing supplier codes (or the reverse)."""
    codes = set(codes[codes != ""])
    if not codes:
        return
    own_model, other_model = (Trust, Supplier) if kind == "trusts" else (Supplier, Trust)
    other = "suppliers" if kind == "trusts" else "trusts"
    theirs = codes & set(session.scalars(select(col(other_model.code))))
    ours = codes & set(session.scalars(select(col(own_model.code))))
    if len(theirs) / len(codes) >= SHARE_OF_OTHER_CODES and not ours:
        shown = ", ".join(sorted(theirs)[:5]) + (" ..." if len(theirs) > 5 else "")
        raise InputFileError(
            f"{file}: {len(theirs)} of its {len(codes)} codes are existing {other} codes ({shown}) and none is a "
            f"known {kind[:-1]}'s: it looks like a {other} file. Import it with `procure import {other} {file}`. "
            "Nothing was written."
        )
