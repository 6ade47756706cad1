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
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Date, Numeric, Select, bindparam, cast, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from catalogues.normalise import clean_text, is_text
from catalogues.read import FileFormatError, TableSpec, heading_key, read_table
from procurement.errors import InputFileError
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


def _held_lines_statements(penny) -> tuple[Select, Select]:
    """The two queries of ``_held_lines``, built once (``penny`` rounds a price to the penny)."""
    mine, other = aliased(Usage, name="mine"), aliased(Usage, name="other")
    same_line = (
        (col(other.item_id) == col(mine.item_id))
        & (col(other.period) == col(mine.period))
        & (col(other.quantity) == col(mine.quantity))
        # The range first (the index can seek it), then the penny.
        & (col(other.unit_price_paid) > col(mine.unit_price_paid) - 0.01)
        & (col(other.unit_price_paid) < col(mine.unit_price_paid) + 0.01)
        & (penny(col(other.unit_price_paid)) == penny(col(mine.unit_price_paid)))
        & (col(other.trust_id) != col(mine.trust_id))
    )
    pairs = select().select_from(mine).join(other, same_line).where(col(mine.import_id) == bindparam("import_id"))
    by_trust = pairs.add_columns(col(other.trust_id), func.count(func.distinct(col(mine.id))).label("rows")).group_by(
        col(other.trust_id)
    )
    imports = pairs.add_columns(col(other.import_id)).where(col(other.trust_id) == bindparam("trust_id")).distinct()
    return by_trust, imports


# SQLite rounds a REAL; PostgreSQL rounds only a numeric to a number of decimals.
_HELD_LINES = {
    "sqlite": _held_lines_statements(lambda price: func.round(price, 2)),
    "other": _held_lines_statements(lambda price: func.round(cast(price, Numeric), 2)),
}


def _held_lines(session: Session, import_id: int, *, trust_id: int | None = None) -> list[tuple]:
    """Other trusts' usage rows equal to one of import ``import_id``'s stored rows.

    Equal: the same SKU, date and quantity and the same unit price rounded to the penny.
    Per trust (``(trust_id, rows)``: how many of the import's rows it holds), or, with
    ``trust_id``, that trust's imports holding them (``(import_id,)``). The import's rows are
    already in the table (this transaction's), so the database joins them with the
    other trusts' rows on the order-line index (SKU, date, quantity, price, trust) and
    counts: nothing is sent in or out row by row. (A national region's trusts share
    many order lines, one unit of a SKU at its catalogue price: fetching each shared
    line cost more than the rest of the check.) The statements are built once.
    """
    by_trust, imports = _HELD_LINES["sqlite" if session.get_bind().dialect.name == "sqlite" else "other"]
    if trust_id is None:
        return [tuple(row) for row in core_execute(session, by_trust, {"import_id": import_id})]
    return [tuple(row) for row in core_execute(session, imports, {"import_id": import_id, "trust_id": trust_id})]


def _same_order_lines(session: Session, import_id: int, n_rows: int) -> tuple[str, float, list[int]] | None:
    """(trust, share of the import's ``n_rows`` rows, its imports) of the trust already holding most of them.

    A row is held by a trust when that trust has a usage row of the same SKU, date,
    quantity and unit price (rounded to the penny). The imports are looked up only when
    the share reaches ``SAME_LINES_SHARE`` (the file is refused; they are named).
    """
    held = _held_lines(session, import_id)
    if not held:
        return None
    codes = dict(core_execute(session, select(col(Trust.id), col(Trust.code))).all())
    # The most rows; of trusts holding as many, the first by code.
    rows, trust, trust_id = min((-rows, codes[trust_id], trust_id) for trust_id, rows in held)
    share = -rows / n_rows
    if share < SAME_LINES_SHARE:
        return trust, share, []
    imports = _held_lines(session, import_id, trust_id=trust_id)
    return trust, share, sorted({int(import_id) for (import_id,) in imports})


_HISTORY: Select = (  # built once: units per trust and SKU before a date
    select(col(Trust.code).label("trust"), col(Usage.item_id), func.sum(col(Usage.quantity)).label("units"))
    .join(Trust, col(Trust.id) == col(Usage.trust_id))
    .where(col(Usage.period) < bindparam("earliest", type_=Date))
    .group_by(col(Trust.code), col(Usage.item_id))
)


def _mix_similarity(session: Session, earliest: dt.date, units: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(cosine similarity of the file's ``units`` per SKU with each trust's history, SKUs in each history).

    The history is what each trust bought before the file's ``earliest`` date: usage of
    the same later months is compared row by row (rule 3), and comparing a trust's new
    months with the others' new months would confuse trusts that all moved onto one
    regional range.
    """
    history = frame(session, _HISTORY, {"earliest": earliest})
    if history.empty:
        return pd.Series(dtype=float), pd.Series(dtype=int)
    by_trust = history.pivot_table(index="trust", columns="item_id", values="units", aggfunc="sum", fill_value=0.0)
    mine = units.astype(float)
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
    trusts_named: dict[str, int],
) -> None:
    """Refuse (``InputFileError``) a usage file that belongs to another trust: rules 1 and 2 (of the
    module docstring), before anything is written; ``trusts_named`` counts the rows of its trust
    column naming another trust (``other_trusts_named``). Rules 3 and 4 look at its rows once
    stored: ``check_usage_lines``.
    """
    same = _same_file(session, sha, trust_id)
    if same:
        import_id, other = same
        raise InputFileError(
            f"{file}: this exact file is already imported as {other}'s usage (import #{import_id}), so it cannot "
            f"also be {trust}'s. If it is {trust}'s, undo that with `procure imports revert {import_id}`, then "
            f"{_how_to(trust, file)}. Nothing was written."
        )
    if trusts_named:
        said = ", ".join(f"{code} ({n} rows)" for code, n in trusts_named.items())
        first = next(iter(trusts_named))
        raise InputFileError(
            f"{file}: its trust column says {said}, not {trust}. If it is {first}'s usage, "
            f"{_how_to(first, file)}; a file of several trusts must be split into one file per trust. "
            "Nothing was written."
        )


def other_trusts_named(column: pd.Series, trust: str) -> dict[str, int]:
    """Rows per trust code in a file's trust column, other than ``trust`` and blanks; most rows first
    (ties in the order of first appearance)."""
    if not is_text(column) or column.isna().any():  # cells of other types: as clean_text reads them
        codes = clean_text(column).str.upper()
        return {str(k): int(n) for k, n in codes[(codes != "") & (codes != trust)].value_counts().items()}
    # Counted as read (C), then each distinct text cleaned once (as clean_text cleans text).
    counts: Counter[str] = Counter()
    for text, n in Counter(column.tolist()).items():
        code = " ".join(text.split()).upper()
        if code and code != trust:
            counts[code] += n
    return dict(sorted(counts.items(), key=lambda pair: -pair[1]))


def check_usage_lines(
    session: Session,
    *,
    trust: str,
    file: str,
    import_id: int,
    rows: int,
    earliest: dt.date,
    units: pd.Series,
    confirm_trust: bool = False,
) -> None:
    """Refuse (``InputFileError``) a usage file whose rows belong to another trust: rules 3 and 4.

    Run once the file's ``rows`` usable rows are stored as import ``import_id``, in the
    import's transaction (the refusal rolls them back); ``earliest`` is their earliest
    date and ``units`` their units per item id.
    """
    if rows < MIN_ROWS:
        return
    lines = _same_order_lines(session, import_id, rows)
    if lines and lines[1] >= SAME_LINES_SHARE:
        other, share, imports = lines
        raise InputFileError(
            f"{file}: {share:.0%} of its rows (same SKU, date, quantity and price) are already stored as "
            f"{other}'s usage (import #{', #'.join(map(str, imports))}): it looks like {other}'s file, not "
            f"{trust}'s. If it is {other}'s, {_how_to(other, file)}. Nothing was written."
        )
    if confirm_trust:
        return
    similarity, skus = _mix_similarity(session, earliest, units)
    if similarity.empty:  # no trust has a history before the file's dates
        return
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
