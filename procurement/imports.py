"""Importers: one file, one transaction, one ``DataImport`` record.

Every importer follows the same contract:

1. read the whole file and hash it (sha256); an identical file already imported for
   the same kind (and supplier or trust) is reported as a duplicate and nothing is
   written (race-free: two imports of one file at the same moment store it once, see
   ``procurement.db.lock_for_write``);
2. parse every row with the vectorised parsers of ``catalogues.normalise``; each
   unusable value becomes a ``RejectedRow`` naming the row, the column (as headed in
   the file), the value and the reason; a row with any problem is not used;
3. write the accepted rows, the rejected rows and the ``DataImport`` record in one
   transaction: a file that cannot be used at all (unreadable, wrong layout, unknown
   supplier or trust) raises a ``ProcureError`` and leaves the database unchanged.

``rows_read == rows_accepted + rows_rejected`` always holds (blank lines are layout,
not rows). File formats: docs/formats.md.
"""

import getpass
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalogues.classify import Taxonomy, TaxonomyError, load_taxonomy
from catalogues.normalise import (
    Parsed,
    clean_text,
    normalise_gtin,
    parse_bool,
    parse_date,
    parse_money,
    parse_pack,
    parse_quantity,
    slug,
)
from catalogues.read import (
    ROW_COLUMN,
    FileFormatError,
    Profile,
    TableSpec,
    detect_profile,
    load_profile,
    read_catalogue,
    read_table,
)
from procurement.db import lock_for_write, transaction
from procurement.errors import InputFileError, ProcureError, UnknownReferenceError
from procurement.models import (
    Approval,
    CatalogueItem,
    ClinicalRating,
    Contract,
    DataImport,
    ItemPrice,
    ProductLine,
    RejectedRow,
    Supplier,
    Trust,
    Usage,
    VolumeTier,
)
from procurement.ratings import parse_odep
from procurement.reference import (
    frame,
    groups_frame,
    lines_frame,
    suppliers_by_code,
    sync_taxonomy,
    trusts_by_code,
)

REGIONAL_PANEL = "REGIONAL"
REJECT_COLUMNS = ["row", "column", "value", "reason"]
INSERT_BATCH = 20_000  # rows per INSERT of a large file


def current_user(user: str | None = None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


@dataclass
class ImportReport:
    """What one import did; ``rejects`` lists every problem (row, column, value, reason)."""

    kind: str
    file: str
    sha256: str
    import_id: int | None = None
    duplicate_of: int | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    new_lines: int = 0
    new_items: int = 0
    price_changes: int = 0
    discontinued: int = 0
    version: int | None = None
    profile: str | None = None
    notes: list[str] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))

    def to_dict(self, max_rejects: int | None = None) -> dict:
        rejects = self.rejects if max_rejects is None else self.rejects.head(max_rejects)
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "import_id": self.import_id,
            "duplicate_of": self.duplicate_of,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "new_lines": self.new_lines,
            "new_items": self.new_items,
            "price_changes": self.price_changes,
            "discontinued": self.discontinued,
            "version": self.version,
            "profile": self.profile,
            "notes": self.notes,
            "rejects": rejects.astype({"row": int}).to_dict("records") if len(rejects) else [],
        }


class Problems:
    """Collects row problems of one file as (index, row, column, value, reason)."""

    def __init__(self, table: pd.DataFrame, headings: Mapping[str, str]):
        self.table = table
        self.headings = headings
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        values = self.table.loc[mask, column] if column in self.table else ""
        reasons = reason[mask] if isinstance(reason, pd.Series) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "index": self.table.index[mask],
                    "row": self.table.loc[mask, ROW_COLUMN],
                    "column": self.headings.get(column, column),
                    "value": values,
                    "reason": reasons,
                }
            )
        )

    def add_parsed(self, column: str, parsed: Parsed) -> None:
        self.add(parsed.errors != "", column, parsed.errors)

    def bad(self) -> pd.Series:
        """Boolean mask over the table: rows with at least one problem."""
        mask = pd.Series(False, index=self.table.index)
        if self.parts:
            mask[pd.concat(self.parts)["index"].unique()] = True
        return mask

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["index", *REJECT_COLUMNS])
        out = pd.concat(self.parts, ignore_index=True)
        out["value"] = out["value"].astype(str).str.slice(0, 200)
        return out.sort_values(["row", "column"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- plumbing


def _records(table: pd.DataFrame) -> list[dict]:
    """``table.to_dict("records")`` (Python values), built a column at a time: faster."""
    columns = list(table.columns)
    values = zip(*(table[c].tolist() for c in columns), strict=True)
    return [dict(zip(columns, row, strict=True)) for row in values]


def _read_bytes(path: Path) -> tuple[bytes, str]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    return data, hashlib.sha256(data).hexdigest()


def _find_duplicate(session: Session, kind: str, sha: str, *, supplier_id=None, trust_id=None) -> int | None:
    # Race-free: a second import of the same file waits here until the first one has
    # committed, then finds it (see procurement.db.lock_for_write).
    lock_for_write(session, f"import|{kind}|{sha}|{supplier_id}|{trust_id}")
    query = select(DataImport.id).where(DataImport.kind == kind, DataImport.sha256 == sha)
    if supplier_id is not None:
        query = query.where(DataImport.supplier_id == supplier_id)
    if trust_id is not None:
        query = query.where(DataImport.trust_id == trust_id)
    return session.execute(query.order_by(DataImport.id)).scalars().first()


def _raw_text(table: pd.DataFrame) -> pd.Series:
    columns = [c for c in table.columns if c != ROW_COLUMN]
    # astype("string") + fillna: pandas 3's astype(str) keeps missing values as NaN.
    return table[columns].astype("string").fillna("").agg(" | ".join, axis=1)


def _record_import(
    session: Session,
    report: ImportReport,
    table: pd.DataFrame,
    problems: Problems,
    *,
    user: str | None,
    supplier_id: int | None = None,
    trust_id: int | None = None,
) -> int:
    """Insert the DataImport row and its RejectedRow rows; fill the report's counts."""
    rejects = problems.frame()
    bad = problems.bad()
    report.rows_read = len(table)
    report.rows_rejected = int(bad.sum())
    report.rows_accepted = report.rows_read - report.rows_rejected
    report.rejects = rejects[REJECT_COLUMNS]
    record = DataImport(
        kind=report.kind,
        file_name=report.file,
        sha256=report.sha256,
        supplier_id=supplier_id,
        trust_id=trust_id,
        profile=report.profile,
        version=report.version or 1,
        imported_by=current_user(user),
        rows_read=report.rows_read,
        rows_accepted=report.rows_accepted,
        rows_rejected=report.rows_rejected,
        new_lines=report.new_lines,
        price_changes=report.price_changes,
    )
    session.add(record)
    session.flush()
    report.import_id = record.id
    if len(rejects):
        raw = _raw_text(table.loc[rejects["index"]]).to_numpy()  # the rejected rows only
        session.execute(
            insert(RejectedRow.__table__),
            rejects.assign(import_id=record.id, raw=raw)
            .rename(columns={"row": "row_number"})[["import_id", "row_number", "column", "value", "reason", "raw"]]
            .astype({"row_number": int})
            .to_dict("records"),
        )
    return record.id


def _finish_counts(session: Session, import_id: int, report: ImportReport) -> None:
    session.execute(
        update(DataImport)
        .where(DataImport.id == import_id)
        .values(new_lines=report.new_lines, price_changes=report.price_changes)
    )


def _refuse_if_no_rows(path: Path, table: pd.DataFrame) -> None:
    if table.empty:
        raise InputFileError(f"{Path(path).name}: the header is there but no rows below it; nothing was written")


def _read(path: Path, spec: TableSpec) -> pd.DataFrame:
    try:
        table = read_table(path, spec)
    except FileFormatError as exc:
        raise InputFileError(str(exc)) from exc
    _refuse_if_no_rows(path, table)
    headings = table.attrs.get("headings", {})
    table = table.astype({c: "object" for c in table.columns if c != ROW_COLUMN})
    table.attrs["headings"] = headings
    return table


def _taxonomy(taxonomy: Taxonomy | None) -> Taxonomy:
    try:
        return taxonomy or load_taxonomy()
    except TaxonomyError as exc:
        raise InputFileError(str(exc)) from exc


def _lookup_codes(
    problems: Problems, table: pd.DataFrame, column: str, known: Mapping[str, int], what: str
) -> pd.Series:
    """Map a code column to ids; unknown codes become problems. Returns Int64 ids."""
    # Codes are case-insensitive: stored upper-case by the trusts and suppliers imports.
    codes = clean_text(table[column]).str.upper()
    ids = codes.map({str(k).upper(): v for k, v in known.items()}).astype("Int64")
    problems.add(codes == "", column, f"missing {what} code")
    problems.add((codes != "") & ids.isna(), column, f"unknown {what} code")
    return ids


def _duplicate_report(kind: str, path: Path, sha: str, previous: int) -> ImportReport:
    report = ImportReport(kind=kind, file=Path(path).name, sha256=sha, duplicate_of=previous)
    report.notes.append(f"identical file already imported as import #{previous}; nothing written")
    return report


# --------------------------------------------------------------------------- trusts, suppliers

TRUSTS_SPEC = TableSpec(
    "trusts",
    required=["code", "name"],
    optional=["region"],
    aliases={"code": ["trust_code", "ods_code", "trust"], "name": ["trust_name"]},
)
SUPPLIERS_SPEC = TableSpec(
    "suppliers",
    required=["code", "name"],
    optional=["gs1_prefix"],
    aliases={
        "code": ["supplier_code", "supplier"],
        "name": ["supplier_name"],
        "gs1_prefix": ["gs1", "company_prefix"],
    },
)


def _import_reference(engine: Engine, path: Path, *, kind: str, spec: TableSpec, model, user):
    data, sha = _read_bytes(path)
    table = _read(path, spec)
    report = ImportReport(kind=kind, file=Path(path).name, sha256=sha)
    problems = Problems(table, table.attrs.get("headings", {}))
    code = clean_text(table["code"]).str.upper()
    name = clean_text(table["name"])
    problems.add(code == "", "code", "missing code")
    problems.add(
        ~code.str.fullmatch(r"[A-Z0-9][A-Z0-9_.-]{0,31}") & (code != ""),
        "code",
        "code must be letters, digits, '-', '_' or '.' (at most 32)",
    )
    problems.add(name == "", "name", "missing name")
    problems.add(code.duplicated(keep=False) & (code != ""), "code", "code appears more than once in the file")
    extra = {}
    if kind == "suppliers":
        prefix = clean_text(table["gs1_prefix"])
        problems.add(
            (prefix != "") & ~prefix.str.fullmatch(r"\d{6,12}"),
            "gs1_prefix",
            "GS1 company prefix must be 6 to 12 digits",
        )
        extra["gs1_prefix"] = prefix.where(prefix != "", None)
    else:
        extra["region"] = clean_text(table["region"])
    with transaction(engine) as session:
        previous = _find_duplicate(session, kind, sha)
        if previous:
            return _duplicate_report(kind, path, sha, previous)
        import_id = _record_import(session, report, table, problems, user=user)
        good = ~problems.bad()
        rows = pd.DataFrame({"code": code, "name": name, **extra})[good]
        existing = code_map = dict(session.execute(select(model.code, model.id)).all())
        rows["id"] = rows["code"].map(code_map)
        new = rows[rows["id"].isna()].drop(columns="id")
        # An optional column the file does not have (region, gs1_prefix) leaves the stored
        # value alone: a supplier list without prefixes must not erase them.
        absent = [c for c in extra if c not in table.attrs.get("headings", {})]
        old = rows[rows["id"].notna()].drop(columns=absent)
        # Missing values go in as NULL: PostgreSQL would store a NaN bound to a text column as 'NaN'.
        if len(new):
            session.execute(insert(model), new.astype(object).where(new.notna(), None).to_dict("records"))
        if len(old):
            old = old.astype({"id": int}).astype(object)
            session.execute(update(model), old.where(old.notna(), None).to_dict("records"))
        report.new_items = len(new)
        report.notes.append(f"{len(new)} new, {len(old)} updated (of {len(existing)} known before)")
        del import_id
    return report


def import_trusts(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Add or update trusts from a CSV/XLSX of code, name, region."""
    return _import_reference(engine, path, kind="trusts", spec=TRUSTS_SPEC, model=Trust, user=user)


def import_suppliers(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Add or update suppliers from a CSV/XLSX of code, name, gs1_prefix."""
    return _import_reference(engine, path, kind="suppliers", spec=SUPPLIERS_SPEC, model=Supplier, user=user)


# --------------------------------------------------------------------------- catalogue


def _resolve_profile(path: Path, profile_name: str | None) -> Profile:
    try:
        return load_profile(profile_name) if profile_name else detect_profile(path)
    except LookupError as exc:
        raise UnknownReferenceError(str(exc.args[0])) from exc
    except FileFormatError as exc:
        raise InputFileError(str(exc)) from exc


IN_CHUNK = 5_000  # values per "WHERE column IN (...)": well under PostgreSQL's bind limit


def _frame_where_in(session: Session, query, attr, values: list[str], columns: list[str]) -> pd.DataFrame:
    """``query`` restricted to rows whose ``attr`` is one of ``values``, as a frame.

    SQLite gets the values as one JSON array (json_each): rendering thousands of bound
    parameters cost more than the query itself. Elsewhere the values go in chunks.
    """
    if not values:
        return pd.DataFrame(columns=columns)
    if session.get_bind().dialect.name == "sqlite":
        listed = func.json_each(json.dumps(values)).table_valued("value")
        return frame(session, query.where(attr.in_(select(listed.c.value))))
    parts = [frame(session, query.where(attr.in_(values[i : i + IN_CHUNK]))) for i in range(0, len(values), IN_CHUNK)]
    return pd.concat(parts, ignore_index=True)


def _items_where(session: Session, column: str, values: pd.Series) -> pd.DataFrame:
    """item_id, gtin, supplier_code, supplier of the catalogue items whose ``column`` is in ``values``.

    Only the items a file names are fetched (not every item of every supplier), in
    item id order, so that "the first item with this GTIN" is the oldest one.
    """
    attr = getattr(CatalogueItem, column)
    query = select(
        CatalogueItem.id.label("item_id"),
        CatalogueItem.gtin,
        CatalogueItem.supplier_code,
        Supplier.code.label("supplier"),
    ).join(Supplier, Supplier.id == CatalogueItem.supplier_id)
    wanted = sorted(set(values.dropna()) - {""})
    items = _frame_where_in(session, query, attr, wanted, ["item_id", "gtin", "supplier_code", "supplier"])
    return items.sort_values("item_id", kind="stable", ignore_index=True)


def _check_supplier_identity(session: Session, supplier: Supplier, items: pd.DataFrame, file_name: str) -> None:
    """Refuse a file that is evidently another supplier's catalogue (before any write).

    Evidence: the GTINs' GS1 company prefixes, and the GTINs and codes already
    imported under other suppliers. A new supplier's first file is judged by prefix only.
    """
    gtins = items["gtin"].dropna()
    others = {s.code: s for s in session.scalars(select(Supplier).where(Supplier.id != supplier.id))}
    if len(gtins) >= 5 and supplier.gs1_prefix:
        gtin13 = gtins.str.slice(1)
        own_share = gtin13.str.startswith(supplier.gs1_prefix).mean()
        if own_share < 0.5:
            best = max(
                ((code, gtin13.str.startswith(s.gs1_prefix).mean()) for code, s in others.items() if s.gs1_prefix),
                key=lambda kv: kv[1],
                default=(None, 0.0),
            )
            hint = f"; {best[1]:.0%} carry {best[0]}'s prefix {others[best[0]].gs1_prefix}" if best[1] >= 0.5 else ""
            raise InputFileError(
                f"{file_name}: only {own_share:.0%} of its GTINs carry {supplier.code}'s GS1 "
                f"prefix {supplier.gs1_prefix}{hint}. Is this the right supplier? Nothing was written."
            )
    if items.empty:
        return
    for column, values in (("gtin", set(gtins)), ("supplier_code", set(items["supplier_code"]))):
        if not values:
            continue
        # Only the catalogue items holding one of the file's values, not every item of
        # every supplier (at national scale that was most of an import's time).
        known = _items_where(session, column, pd.Series(sorted(values), dtype=object))
        hits = known.groupby("supplier")[column].nunique()
        own = hits.get(supplier.code, 0) / len(values)
        foreign = hits.drop(supplier.code, errors="ignore")
        if len(foreign) and foreign.max() / len(values) >= 0.5 and own < 0.1:
            other = foreign.idxmax()
            raise InputFileError(
                f"{file_name}: {foreign.max()} of its {len(values)} {column.replace('_', ' ')}s are "
                f"already in {other}'s catalogue and {own:.0%} in {supplier.code}'s: it looks like "
                f"{other}'s file. Refused under {supplier.code}; nothing was written."
            )
        if column == "gtin":
            break  # GTINs are the stronger evidence; codes only when there are none


def import_catalogue(
    engine: Engine,
    path: Path,
    *,
    supplier: str,
    profile: str | None = None,
    user: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> ImportReport:
    """Import a supplier's price file as the next version of its catalogue.

    See the module docstring for the transaction contract and docs/formats.md for
    what happens to each row.
    """
    path = Path(path)
    _, sha = _read_bytes(path)
    tax = _taxonomy(taxonomy)
    with transaction(engine) as session:
        sync_taxonomy(session, tax)
        supplier = supplier.strip().upper()
        supplier_row = session.scalars(select(Supplier).where(Supplier.code == supplier)).first()
        if supplier_row is None:
            known = ", ".join(sorted(suppliers_by_code(session))) or "none yet"
            raise UnknownReferenceError(
                f"unknown supplier {supplier!r} (known: {known}); add it with `procure import suppliers FILE`"
            )
        previous = _find_duplicate(session, "catalogue", sha, supplier_id=supplier_row.id)
        if previous:
            return _duplicate_report("catalogue", path, sha, previous)
        # Two different files of one supplier at once: one after the other (version numbers, SKUs).
        lock_for_write(session, f"catalogue|{supplier_row.id}")
        prof = _resolve_profile(path, profile)
        if prof.supplier and prof.supplier != supplier:
            raise InputFileError(
                f"{path.name}: profile {prof.name!r} is {prof.supplier}'s layout, not {supplier}'s; "
                "check --supplier. Nothing was written."
            )
        try:
            raw = read_catalogue(path, prof)
        except FileFormatError as exc:
            raise InputFileError(str(exc)) from exc
        # Before anything is written: an empty price list would discontinue every SKU.
        _refuse_if_no_rows(path, raw)
        raw = raw.astype({c: "object" for c in raw.columns if c != ROW_COLUMN})
        report = ImportReport(kind="catalogue", file=path.name, sha256=sha, profile=prof.name)
        if not profile:
            report.notes.append(f"layout recognised as profile {prof.name!r}")
        items, problems = _normalise_catalogue(raw, prof, tax)
        good = ~problems.bad()
        _check_supplier_identity(session, supplier_row, items[good], path.name)
        report.version = 1 + (
            session.execute(
                select(func.count())
                .select_from(DataImport)
                .where(DataImport.kind == "catalogue", DataImport.supplier_id == supplier_row.id)
            ).scalar_one()
        )
        import_id = _record_import(session, report, raw, problems, user=user, supplier_id=supplier_row.id)
        _store_catalogue(session, supplier_row, items[good], import_id, report, listed=items["supplier_code"])
        _finish_counts(session, import_id, report)
    return report


def _normalise_catalogue(raw: pd.DataFrame, prof: Profile, tax: Taxonomy) -> tuple[pd.DataFrame, Problems]:
    problems = Problems(raw, dict(prof.columns))
    text = {f: clean_text(raw[f]) for f in ("supplier_code", "description", "brand", "component", "size")}
    for fld, what in (("supplier_code", "supplier code"), ("description", "description"), ("brand", "brand")):
        problems.add(text[fld] == "", fld, f"missing {what}")
    gtin = normalise_gtin(raw["gtin"])
    problems.add_parsed("gtin", gtin)
    pack = parse_pack(raw["pack"])
    problems.add_parsed("pack", pack)
    price = parse_money(raw["price"], maximum=None)
    problems.add_parsed("price", price)
    unit_price = price.values.astype(float)
    if prof.price_per == "pack":
        unit_price = unit_price / pack.values.astype(float)
    if prof.includes_vat:
        unit_price = unit_price / (1.0 + prof.vat_rate)
    unit_price = unit_price.round(2)
    problems.add(
        (price.errors == "") & (pack.errors == "") & (unit_price > 100_000),
        "price",
        "implausible price (over £100,000 per unit)",
    )
    problems.add(
        (price.errors == "") & (pack.errors == "") & (unit_price < 0.01),
        "price",
        "price rounds to less than a penny per unit",
    )
    group = tax.classify(text["component"] + " " + text["description"] + " " + text["brand"])
    problems.add(
        group.isna() & (text["description"] != ""),
        "description",
        "matches no equivalence group of the taxonomy (unclassified)",
    )
    items = pd.DataFrame(
        {
            "supplier_code": text["supplier_code"],
            "gtin": gtin.values,
            "description": text["description"],
            "brand": text["brand"],
            "size": text["size"],
            "pack_size": pack.values,
            "unit_price": unit_price,
            "group": group,
            "source_row": raw[ROW_COLUMN],
        },
        index=raw.index,
    )
    _flag_duplicates(items, problems)
    return items, problems


def _flag_duplicates(items: pd.DataFrame, problems: Problems) -> None:
    """Exact repeats of a code: keep the first. Same code, different details: refuse all."""
    ok = items[~problems.bad()]
    repeated = ok["supplier_code"].duplicated(keep=False)
    if repeated.any():
        # Only the repeated rows need a signature (joining every row's fields was slow).
        # astype("string") + fillna: a blank GTIN (None) must not break the join (pandas 3's
        # astype(str) keeps it as NaN).
        signature = (
            ok.loc[repeated, ["gtin", "description", "brand", "size", "pack_size", "unit_price", "group"]]
            .astype("string")
            .fillna("")
            .agg("|".join, axis=1)
        )
        variants = signature.groupby(ok.loc[repeated, "supplier_code"]).transform("nunique")
        conflicting = pd.Series(False, index=items.index)
        conflicting[variants[variants > 1].index] = True
        rows_of = ok.loc[repeated].groupby("supplier_code")["source_row"].agg(lambda r: ", ".join(map(str, r)))
        problems.add(
            conflicting,
            "supplier_code",
            "same supplier code with different details on rows " + items["supplier_code"].map(rows_of).fillna(""),
        )
        exact = pd.Series(False, index=items.index)
        same = variants[variants == 1].index
        exact[same] = ok.loc[same, "supplier_code"].duplicated(keep="first")
        first_row = ok.loc[same].groupby("supplier_code")["source_row"].first()
        problems.add(
            exact,
            "supplier_code",
            "exact duplicate of row " + items["supplier_code"].map(first_row).astype("Int64").astype(str),
        )
    ok = items[~problems.bad()]
    with_gtin = ok[ok["gtin"].notna()]
    shared = with_gtin["gtin"].duplicated(keep=False)
    if shared.any():
        mask = pd.Series(False, index=items.index)
        mask[with_gtin.index[shared]] = True
        problems.add(mask, "gtin", "GTIN shared by different supplier codes in this file")


def _store_catalogue(
    session: Session,
    supplier: Supplier,
    items: pd.DataFrame,
    import_id: int,
    report: ImportReport,
    *,
    listed: pd.Series,
) -> None:
    """Write the accepted ``items``; ``listed`` is every code in the file, rejected rows included.

    A SKU whose row was rejected is still listed: it keeps its previous price and status
    rather than being marked as no longer listed.
    """
    groups = groups_frame(session)[["group_id", "group"]]
    items = items.merge(groups, on="group", how="left")
    # Brands are matched as in the line's code (case and punctuation ignored), so that
    # "Exeter V40" and "EXETER-V40" are one line rather than two lines with one code.
    items["brand_key"] = slug(items["brand"])
    lines = frame(
        session,
        select(ProductLine.id.label("line_id"), ProductLine.group_id, ProductLine.brand).where(
            ProductLine.supplier_id == supplier.id
        ),
    )
    lines["brand_key"] = slug(lines["brand"])
    wanted = items.drop_duplicates(["group_id", "brand_key"])[["group_id", "group", "brand", "brand_key"]]
    new_lines = wanted.merge(lines[["group_id", "brand_key"]], how="left", indicator=True)
    new_lines = new_lines[new_lines["_merge"] == "left_only"]
    if len(new_lines):
        session.execute(
            insert(ProductLine.__table__),
            pd.DataFrame(
                {
                    "code": supplier.code + ":" + new_lines["group"] + ":" + slug(new_lines["brand"]),
                    "supplier_id": supplier.id,
                    "group_id": new_lines["group_id"].astype(int),
                    "brand": new_lines["brand"],
                    "first_import_id": import_id,
                }
            ).to_dict("records"),
        )
        lines = frame(
            session,
            select(ProductLine.id.label("line_id"), ProductLine.group_id, ProductLine.brand).where(
                ProductLine.supplier_id == supplier.id
            ),
        )
        lines["brand_key"] = slug(lines["brand"])
    report.new_lines = len(new_lines)
    items = items.merge(lines[["line_id", "group_id", "brand_key"]], on=["group_id", "brand_key"], how="left")

    existing = frame(
        session,
        select(
            CatalogueItem.id.label("item_id"),
            CatalogueItem.supplier_code,
            CatalogueItem.unit_price.label("old_price"),
            CatalogueItem.active,
        ).where(CatalogueItem.supplier_id == supplier.id),
    )
    items = items.merge(existing, on="supplier_code", how="left")
    columns = {
        "supplier_id": supplier.id,
        "product_line_id": items["line_id"].astype(int),
        "supplier_code": items["supplier_code"],
        "gtin": items["gtin"].astype(object).where(items["gtin"].notna(), None),
        "description": items["description"],
        "size": items["size"],
        "pack_size": items["pack_size"].astype(int),
        "unit_price": items["unit_price"],
        "source_import_id": import_id,
        "source_row": items["source_row"].astype(int),
        "active": True,
    }
    records = pd.DataFrame(columns, index=items.index)
    is_new = items["item_id"].isna()
    if is_new.any():
        # Core executemany: the ORM's bulk insert added per-row work for nothing here.
        session.execute(insert(CatalogueItem.__table__), _records(records[is_new]))
    if (~is_new).any():
        session.execute(
            update(CatalogueItem),
            _records(records[~is_new].assign(id=items.loc[~is_new, "item_id"].astype(int))),
        )
    report.new_items = int(is_new.sum())
    report.price_changes = int(((~is_new) & ((items["unit_price"] - items["old_price"]).abs() >= 0.005)).sum())
    gone = existing[~existing["supplier_code"].isin(listed) & existing["active"].astype(bool)]
    if len(gone):
        session.execute(
            update(CatalogueItem),
            [{"id": int(i), "active": False} for i in gone["item_id"]],
        )
    report.discontinued = len(gone)
    ids = frame(
        session,
        select(CatalogueItem.id.label("item_id"), CatalogueItem.supplier_code).where(
            CatalogueItem.supplier_id == supplier.id
        ),
    )
    prices = records[["supplier_code", "unit_price", "pack_size", "source_row"]].merge(ids, on="supplier_code")
    if len(prices):  # an empty executemany would insert one row of defaults (and fail)
        session.execute(
            insert(ItemPrice.__table__),
            _records(
                prices.assign(import_id=import_id)[["item_id", "import_id", "unit_price", "pack_size", "source_row"]]
            ),
        )
    if report.version and report.version > 1:
        report.notes.append(
            f"catalogue version {report.version}: {report.new_items} new SKUs, "
            f"{report.price_changes} price changes, {report.discontinued} no longer listed"
        )


# --------------------------------------------------------------------------- usage

USAGE_SPEC = TableSpec(
    "usage",
    required=["quantity", "unit_price", "date"],
    optional=["gtin", "item_code", "supplier"],
    one_of=[("gtin", "item_code")],
    aliases={
        "gtin": ["barcode", "ean", "gtin14", "gtin13"],
        "item_code": [
            "product_code",
            "catalogue_number",
            "catalogue_no",
            "cat_no",
            "supplier_product_code",
            "supplier_code",
            "item",
        ],
        "supplier": ["supplier_code", "supplier_name_code", "vendor", "vendor_code"],
        "quantity": ["qty", "units", "quantity_ordered"],
        "unit_price": ["unit_cost", "price_paid", "price", "unit_price_paid", "net_unit_price"],
        "date": ["order_date", "period", "month", "invoice_date", "date_ordered"],
    },
)


def import_usage(engine: Engine, path: Path, *, trust: str, user: str | None = None) -> ImportReport:
    """Import a trust's usage export (see docs/formats.md).

    Items are matched by GTIN, else by (supplier, item code), else by an item code
    that only one supplier uses. The file replaces the trust's earlier usage for the
    months it spans, so a corrected export never double-counts.
    """
    path = Path(path)
    _, sha = _read_bytes(path)
    table = _read(path, USAGE_SPEC)
    with transaction(engine) as session:
        trust = trust.strip().upper()
        trust_id = trusts_by_code(session).get(trust)
        if trust_id is None:
            known = ", ".join(sorted(trusts_by_code(session))) or "none yet"
            raise UnknownReferenceError(
                f"unknown trust {trust!r} (known: {known}); add it with `procure import trusts FILE`"
            )
        previous = _find_duplicate(session, "usage", sha, trust_id=trust_id)
        if previous:
            return _duplicate_report("usage", path, sha, previous)
        # Two files of one trust at once: one after the other (each replaces the months it spans).
        lock_for_write(session, f"usage|{trust_id}")
        report = ImportReport(kind="usage", file=path.name, sha256=sha)
        problems = Problems(table, table.attrs.get("headings", {}))
        quantity = parse_quantity(table["quantity"])
        price = parse_money(table["unit_price"], what="unit price")
        when = parse_date(table["date"])
        gtin = normalise_gtin(table["gtin"])
        for column, parsed in (("quantity", quantity), ("unit_price", price), ("date", when), ("gtin", gtin)):
            problems.add_parsed(column, parsed)
        item_id = _match_items(session, table, gtin, problems)
        import_id = _record_import(session, report, table, problems, user=user, trust_id=trust_id)
        good = ~problems.bad()
        rows = pd.DataFrame(
            {
                "trust_id": trust_id,
                "item_id": item_id[good].astype(int),
                "period": when.values[good],
                "quantity": quantity.values[good].astype(float),
                "unit_price_paid": price.values[good].astype(float),
                "import_id": import_id,
                "source_row": table.loc[good, ROW_COLUMN].astype(int),
            }
        )
        if len(rows):
            months = pd.to_datetime(rows["period"])
            first = months.min().to_period("M").start_time.date()
            last = months.max().to_period("M").end_time.date()
            replaced = session.execute(
                delete(Usage).where(Usage.trust_id == trust_id, Usage.period >= first, Usage.period <= last)
            ).rowcount
            if replaced:
                report.notes.append(f"replaced {replaced} earlier usage rows of {trust} from {first} to {last}")
            # Core inserts in batches: a year of a large trust's order lines is hundreds of
            # thousands of rows, and one list of ORM bulk-insert dicts held them all at once.
            for start in range(0, len(rows), INSERT_BATCH):
                batch = rows.iloc[start : start + INSERT_BATCH]
                session.execute(insert(Usage.__table__), _records(batch))
    return report


def _match_items(session: Session, table: pd.DataFrame, gtin: Parsed, problems: Problems) -> pd.Series:
    result = pd.Series(pd.NA, index=table.index, dtype="Int64")
    has_gtin = gtin.values.notna()
    items = _items_where(session, "gtin", gtin.values[has_gtin])
    by_gtin = items.dropna(subset=["gtin"]).drop_duplicates("gtin").set_index("gtin")["item_id"]
    result[has_gtin] = gtin.values[has_gtin].map(by_gtin).astype("Int64")
    code = clean_text(table["item_code"])
    supplier = clean_text(table["supplier"])
    todo = result.isna() & (code != "") & (gtin.errors == "")
    if todo.any():
        items = _items_where(session, "supplier_code", code[todo])
        pair = items.drop_duplicates(["supplier", "supplier_code"]).set_index(["supplier", "supplier_code"])["item_id"]
        keyed = pd.MultiIndex.from_arrays([supplier[todo], code[todo]])
        with_supplier = todo & (supplier != "")
        result[todo] = pd.Series(pair.reindex(keyed).to_numpy(), index=todo[todo].index).astype("Int64")
        uses = items.groupby("supplier_code")["item_id"]
        unique_code = uses.first()[uses.nunique() == 1]
        no_supplier = todo & (supplier == "")
        result[no_supplier] = code[no_supplier].map(unique_code).astype("Int64")
        ambiguous = no_supplier & code.isin(uses.nunique()[uses.nunique() > 1].index)
        problems.add(ambiguous, "item_code", "item code used by more than one supplier: add a supplier column")
        # Suppliers with a catalogue: an item code under any other supplier is unknown.
        catalogued = set(
            session.scalars(
                select(Supplier.code).where(
                    select(CatalogueItem.id).where(CatalogueItem.supplier_id == Supplier.id).exists()
                )
            )
        )
        problems.add(
            with_supplier & result.isna() & ~supplier.isin(catalogued),
            "supplier",
            "unknown supplier code",
        )
    unmatched = result.isna() & ~problems.bad()
    on_gtin = unmatched & (gtin.values.notna()) & (code == "")
    problems.add(on_gtin, "gtin", "unknown item: GTIN not in any imported catalogue")
    problems.add(unmatched & ~on_gtin & (code != ""), "item_code", "unknown item: code not in any imported catalogue")
    problems.add(unmatched & (code == "") & gtin.values.isna(), "item_code", "missing item code or GTIN")
    return result


# --------------------------------------------------------------------------- contracts

CONTRACTS_SPEC = TableSpec(
    "contracts",
    required=["trust", "supplier", "category", "start", "end"],
    optional=["reference", "notice_months", "exit_fee", "extension_months", "extension_uplift_pct"],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "category": ["lot"],
        "start": ["start_date", "contract_start"],
        "end": ["end_date", "contract_end", "expiry"],
        "reference": ["contract_reference", "contract_ref", "ref"],
        "notice_months": ["notice", "notice_period_months"],
        "exit_fee": ["termination_fee"],
        "extension_months": ["extension"],
        "extension_uplift_pct": ["extension_uplift", "uplift_pct"],
    },
)


def _without_percent(raw: pd.Series) -> pd.Series:
    """A percentage column's text without a trailing ``%`` ("5%" is 5 in a ``_pct`` column)."""
    return clean_text(raw).str.replace(r"\s*%$", "", regex=True)


def _optional_number(
    table: pd.DataFrame,
    column: str,
    problems: Problems,
    *,
    integer: bool = False,
    maximum: float | None = None,
    money: bool = False,
) -> pd.Series:
    text = _without_percent(table[column]) if column.endswith("_pct") else clean_text(table[column])
    parsed = parse_money(
        text.where(text != "", "0"), allow_zero=True, maximum=maximum, what=column.replace("_", " "), money=money
    )
    problems.add_parsed(column, parsed)
    if integer:
        problems.add(
            (parsed.errors == "") & (parsed.values % 1 != 0),
            column,
            f"{column.replace('_', ' ')} must be whole",
        )
    return parsed.values.fillna(0)


def import_contracts(
    engine: Engine, path: Path, *, user: str | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import the contracts register. It replaces the contracts of the trusts it lists."""
    path = Path(path)
    _, sha = _read_bytes(path)
    table = _read(path, CONTRACTS_SPEC)
    tax = _taxonomy(taxonomy)
    with transaction(engine) as session:
        sync_taxonomy(session, tax)
        previous = _find_duplicate(session, "contracts", sha)
        if previous:
            return _duplicate_report("contracts", path, sha, previous)
        report = ImportReport(kind="contracts", file=path.name, sha256=sha)
        problems = Problems(table, table.attrs.get("headings", {}))
        trust_id = _lookup_codes(problems, table, "trust", trusts_by_code(session), "trust")
        supplier_id = _lookup_codes(problems, table, "supplier", suppliers_by_code(session), "supplier")
        categories = groups_frame(session).drop_duplicates("category").set_index("category")["category_id"]
        category_id = _lookup_codes(
            problems,
            table.assign(category=clean_text(table["category"]).str.lower()),
            "category",
            categories.to_dict(),
            "category",
        )
        start = parse_date(table["start"], what="start date")
        end = parse_date(table["end"], what="end date")
        problems.add_parsed("start", start)
        problems.add_parsed("end", end)
        both = (start.errors == "") & (end.errors == "")
        problems.add(
            both & (pd.to_datetime(end.values) < pd.to_datetime(start.values)),
            "end",
            "contract ends before it starts",
        )
        notice = _optional_number(table, "notice_months", problems, integer=True, maximum=120)
        fee = _optional_number(table, "exit_fee", problems, maximum=100_000_000, money=True)
        ext = _optional_number(table, "extension_months", problems, integer=True, maximum=120)
        uplift = _optional_number(table, "extension_uplift_pct", problems, maximum=100)
        import_id = _record_import(session, report, table, problems, user=user)
        good = ~problems.bad()
        rows = pd.DataFrame(
            {
                "trust_id": trust_id,
                "supplier_id": supplier_id,
                "category_id": category_id,
                "reference": clean_text(table["reference"]),
                "start": start.values,
                "end": end.values,
                "notice_months": notice,
                "exit_fee": fee,
                "extension_months": ext,
                "extension_uplift_pct": uplift,
                "import_id": import_id,
            }
        )[good]
        if len(rows):
            replaced = session.execute(
                delete(Contract).where(Contract.trust_id.in_([int(t) for t in rows["trust_id"].unique()]))
            ).rowcount
            if replaced:
                report.notes.append(f"replaced {replaced} earlier contracts of the trusts in this file")
            session.execute(
                insert(Contract),
                rows.astype(
                    {
                        "trust_id": int,
                        "supplier_id": int,
                        "category_id": int,
                        "notice_months": int,
                        "extension_months": int,
                    }
                ).to_dict("records"),
            )
    return report


# --------------------------------------------------------------------------- tiers

TIERS_SPEC = TableSpec(
    "tiers",
    required=["supplier", "offer", "scope", "basis", "threshold", "discount_pct"],
    aliases={
        "supplier": ["supplier_code"],
        "offer": ["offer_code", "offer_id"],
        "scope": ["lot", "applies_to"],
        "discount_pct": ["discount", "discount_percent"],
        "threshold": ["volume", "from"],
    },
)


def import_tiers(
    engine: Engine, path: Path, *, user: str | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import volume/spend tier offers; replaces the offers of the suppliers it lists.

    A tier problem rejects the whole offer (its tiers only make sense together).
    """
    path = Path(path)
    _, sha = _read_bytes(path)
    table = _read(path, TIERS_SPEC)
    tax = _taxonomy(taxonomy)
    with transaction(engine) as session:
        sync_taxonomy(session, tax)
        previous = _find_duplicate(session, "tiers", sha)
        if previous:
            return _duplicate_report("tiers", path, sha, previous)
        report = ImportReport(kind="tiers", file=path.name, sha256=sha)
        problems = Problems(table, table.attrs.get("headings", {}))
        supplier_id = _lookup_codes(problems, table, "supplier", suppliers_by_code(session), "supplier")
        offer = clean_text(table["offer"])
        problems.add(offer == "", "offer", "missing offer code")
        groups = groups_frame(session)
        scope = clean_text(table["scope"])
        category_id = scope.str.lower().map(groups.drop_duplicates("category").set_index("category")["category_id"])
        group_id = scope.str.upper().map(groups.set_index("group")["group_id"])
        problems.add(category_id.isna() & group_id.isna(), "scope", "scope is neither a category nor a group code")
        basis = clean_text(table["basis"]).str.lower()
        problems.add(~basis.isin(["units", "spend"]), "basis", 'basis must be "units" or "spend"')
        threshold = parse_money(table["threshold"], maximum=1e10, what="threshold", money=False)
        problems.add_parsed("threshold", threshold)
        discount = parse_money(
            _without_percent(table["discount_pct"]), allow_zero=True, maximum=99.99, what="discount", money=False
        )
        problems.add_parsed("discount_pct", discount)
        tiers = pd.DataFrame(
            {
                "supplier_id": supplier_id,
                "offer": offer,
                "scope": scope,
                "basis": basis,
                "threshold": threshold.values,
                "discount": discount.values,
                "row": table[ROW_COLUMN],
            }
        )
        # Offer-level rules: one scope/basis per offer; thresholds strictly increasing and
        # discounts non-decreasing in threshold order.
        # astype("string") + fillna: an unknown supplier (NA) must still give a key; pandas 3's
        # astype(str) keeps NA as NaN, and groupby dropped those rows (or, if all, crashed).
        key = tiers["supplier_id"].astype("string").fillna("?") + "/" + tiers["offer"]
        ordered = tiers.assign(key=key).sort_values(["key", "threshold"], kind="stable")
        same_threshold = ordered.duplicated(["key", "threshold"], keep=False) & ordered["threshold"].notna()
        falling = ordered.groupby("key")["discount"].diff() < 0
        mixed = ordered.groupby("key")[["scope", "basis"]].transform("nunique").max(axis=1) > 1
        bad_offer_reason = pd.Series("", index=ordered.index, dtype="object")
        bad_offer_reason[mixed] = "tiers of one offer must share scope and basis"
        bad_offer_reason[same_threshold] = "two tiers of the offer have the same threshold"
        bad_offer_reason[falling] = "discount falls as the threshold rises (tiers must increase)"
        first_offence = bad_offer_reason[bad_offer_reason != ""].groupby(ordered["key"]).first()
        offer_reason = key.map(first_offence).astype(object)
        offer_reason = offer_reason.where(offer_reason.notna(), "")
        problems.add((offer_reason != "") & ~problems.bad(), "offer", "offer rejected: " + offer_reason)
        # A row problem rejects the rest of its offer too: its tiers only make sense together,
        # and a row counted as accepted must be stored.
        bad_now = problems.bad()
        first_bad_row = table.loc[bad_now, ROW_COLUMN].groupby(key[bad_now]).min()
        spoiled = key.isin(first_bad_row.index) & ~bad_now
        problems.add(
            spoiled,
            "offer",
            "offer rejected: its tier on row "
            + key.map(first_bad_row).astype("Int64").astype("string")
            + " was rejected",
        )
        import_id = _record_import(session, report, table, problems, user=user)
        # An offer is stored only if none of its rows was rejected.
        bad_keys = set(key[problems.bad()])
        good = ~key.isin(bad_keys)
        rows = pd.DataFrame(
            {
                "supplier_id": supplier_id,
                "offer_code": offer,
                "category_id": category_id.where(group_id.isna()),
                "group_id": group_id,
                "basis": basis,
                "threshold": threshold.values,
                "discount_pct": discount.values,
                "import_id": import_id,
            }
        )[good]
        if len(rows):
            session.execute(
                delete(VolumeTier).where(VolumeTier.supplier_id.in_([int(s) for s in rows["supplier_id"].unique()]))
            )
            records = rows.astype({"supplier_id": int}).astype(object).where(rows.notna(), None).to_dict("records")
            for r in records:
                for k in ("category_id", "group_id"):
                    r[k] = None if r[k] is None else int(r[k])
            session.execute(insert(VolumeTier), records)
    return report


# --------------------------------------------------------------------------- ratings, approvals


def _resolve_lines(session: Session, table: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    """(table index, line_id) pairs for rows naming supplier + brand (+ optional group)."""
    lines = lines_frame(session)
    supplier = clean_text(table["supplier"])
    brand = slug(table["brand"])
    group = clean_text(table["group"]).str.upper()
    problems.add(supplier == "", "supplier", "missing supplier code")
    problems.add(
        (supplier != "") & ~supplier.isin(set(lines["supplier"]) | set(suppliers_by_code(session))),
        "supplier",
        "unknown supplier code",
    )
    problems.add(brand == "", "brand", "missing brand")
    problems.add((group != "") & ~group.isin(set(groups_frame(session)["group"])), "group", "unknown group code")
    keys = pd.DataFrame({"supplier": supplier, "brand_key": brand, "group": group, "index": table.index})
    lines = lines.assign(brand_key=slug(lines["brand"]))
    matched = keys.merge(
        lines[["line_id", "supplier", "brand_key", "group"]].rename(columns={"group": "line_group"}),
        on=["supplier", "brand_key"],
        how="inner",
    )
    matched = matched[(matched["group"] == "") | (matched["group"] == matched["line_group"])]
    none = ~table.index.isin(matched["index"]) & ~problems.bad()
    problems.add(
        pd.Series(none, index=table.index),
        "brand",
        "no product line of this supplier and brand (import its catalogue first)",
    )
    return matched[["index", "line_id"]]


RATINGS_SPEC = TableSpec(
    "ratings",
    required=["supplier", "brand", "rating"],
    optional=["group", "item_code"],
    aliases={
        "rating": ["odep", "odep_rating"],
        "brand": ["product", "range", "brand_name"],
        "supplier": ["supplier_code"],
        "item_code": ["product_code", "sku"],
    },
)


def import_ratings(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Import ODEP ratings per product line (supplier + brand [+ group]) or per SKU.

    A rating replaces earlier ratings of the same lines (or SKUs).
    """
    path = Path(path)
    _, sha = _read_bytes(path)
    table = _read(path, RATINGS_SPEC)
    with transaction(engine) as session:
        previous = _find_duplicate(session, "ratings", sha)
        if previous:
            return _duplicate_report("ratings", path, sha, previous)
        report = ImportReport(kind="ratings", file=path.name, sha256=sha)
        problems = Problems(table, table.attrs.get("headings", {}))
        parsed = parse_odep(table["rating"])
        problems.add(parsed["error"] != "", "rating", parsed["error"])
        matched = _resolve_lines(session, table, problems)
        code = clean_text(table["item_code"])
        items = frame(
            session,
            select(
                CatalogueItem.id.label("item_id"),
                CatalogueItem.product_line_id.label("line_id"),
                CatalogueItem.supplier_code,
            ),
        )
        matched = matched.assign(item_code=code.loc[matched["index"]].to_numpy())
        with_item = matched[matched["item_code"] != ""].merge(
            items.rename(columns={"supplier_code": "item_code"}), on=["line_id", "item_code"], how="left"
        )
        missing_item = pd.Series(False, index=table.index)
        missing_item[with_item.loc[with_item["item_id"].isna(), "index"]] = True
        problems.add(missing_item, "item_code", "no SKU with this code in the named product line")
        matched = pd.concat([matched[matched["item_code"] == ""].assign(item_id=pd.NA), with_item], ignore_index=True)
        import_id = _record_import(session, report, table, problems, user=user)
        bad = problems.bad()
        matched = matched[~matched["index"].map(bad)]
        rows = matched.join(parsed[["rating", "years", "strength", "rank"]], on="index")
        if len(rows):
            line_ids = [int(x) for x in rows.loc[rows["item_id"].isna(), "line_id"].unique()]
            item_ids = [int(x) for x in rows["item_id"].dropna().unique()]
            session.execute(
                delete(ClinicalRating).where(
                    ClinicalRating.product_line_id.in_(line_ids), ClinicalRating.item_id.is_(None)
                )
            )
            if item_ids:
                session.execute(delete(ClinicalRating).where(ClinicalRating.item_id.in_(item_ids)))
            records = [
                {
                    "product_line_id": int(r.line_id),
                    "item_id": None if pd.isna(r.item_id) else int(r.item_id),
                    "scheme": "ODEP",
                    "rating": r.rating,
                    "years": int(r.years),
                    "strength": r.strength,
                    "rank": int(r.rank),
                    "import_id": import_id,
                }
                for r in rows.itertuples(index=False)  # one per rated line: hundreds at most
            ]
            session.execute(insert(ClinicalRating), records)
    return report


APPROVALS_SPEC = TableSpec(
    "approvals",
    required=["trust", "supplier", "brand", "decision", "clinician", "date"],
    optional=["group", "role", "comment", "odep_exception"],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "brand": ["product", "range"],
        "clinician": ["name", "clinician_name", "decided_by"],
        "comment": ["reason", "comments"],
        "date": ["decided_on", "decision_date"],
        "odep_exception": ["odep_override"],
    },
)
DECISIONS = ("approve", "reject", "conditional")
_DECISION_WORDS = {
    "approve": "approve",
    "approved": "approve",
    "yes": "approve",
    "reject": "reject",
    "rejected": "reject",
    "no": "reject",
    "conditional": "conditional",
    "conditionally approved": "conditional",
}


def import_approvals(
    engine: Engine, path: Path, *, user: str | None = None, source_sha256: str | None = None
) -> ImportReport:
    """Append clinicians' decisions to the approval history (the latest one wins)."""
    path = Path(path)
    _, sha = _read_bytes(path)
    table = _read(path, APPROVALS_SPEC)
    with transaction(engine) as session:
        previous = _find_duplicate(session, "approvals", sha)
        if previous:
            return _duplicate_report("approvals", path, sha, previous)
        report = ImportReport(kind="approvals", file=path.name, sha256=sha)
        problems = Problems(table, table.attrs.get("headings", {}))
        trust = clean_text(table["trust"]).str.upper()
        known = trusts_by_code(session)
        trust_id = trust.map(known).astype("Int64")
        problems.add(trust == "", "trust", "missing trust code (use REGIONAL for the regional panel)")
        problems.add((trust != "") & (trust != REGIONAL_PANEL) & trust_id.isna(), "trust", "unknown trust code")
        decision = clean_text(table["decision"]).str.lower().map(_DECISION_WORDS)
        problems.add(decision.isna(), "decision", "decision must be approve, reject or conditional")
        clinician = clean_text(table["clinician"])
        problems.add(clinician == "", "clinician", "missing clinician name")
        when = parse_date(table["date"])
        problems.add_parsed("date", when)
        exception = parse_bool(table["odep_exception"], what="odep_exception")
        problems.add_parsed("odep_exception", exception)
        matched = _resolve_lines(session, table, problems)
        import_id = _record_import(session, report, table, problems, user=user)
        bad = problems.bad()
        matched = matched[~matched["index"].map(bad)]
        idx = matched["index"]
        decided = pd.to_datetime(pd.Series(when.values[idx].to_numpy()))
        rows = pd.DataFrame(
            {
                "trust_id": trust_id[idx].to_numpy(),
                "product_line_id": matched["line_id"].to_numpy(),
                "decision": decision[idx].to_numpy(),
                "odep_exception": exception.values[idx].to_numpy(),
                "clinician": clinician[idx].to_numpy(),
                "role": clean_text(table["role"])[idx].to_numpy(),
                "decided_at": decided.dt.tz_localize("UTC").dt.to_pydatetime() if len(decided) else [],
                "comment": clean_text(table["comment"])[idx].to_numpy(),
                "source_sha256": source_sha256 or sha,
                "import_id": import_id,
            }
        )
        if len(rows):
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")
            for r in records:
                r["trust_id"] = None if r["trust_id"] is None else int(r["trust_id"])
                r["product_line_id"] = int(r["product_line_id"])
                r["odep_exception"] = bool(r["odep_exception"])
            session.execute(insert(Approval), records)
    return report


# --------------------------------------------------------------------------- queries


def list_imports(engine: Engine) -> pd.DataFrame:
    with Session(engine) as session:
        imports = frame(session, select(*DataImport.__table__.columns).order_by(DataImport.id))
    return imports


def rejected_rows(engine: Engine, import_id: int) -> pd.DataFrame:
    with Session(engine) as session:
        if session.get(DataImport, import_id) is None:
            raise UnknownReferenceError(f"no import #{import_id} (see `procure imports`)")
        return frame(
            session,
            select(RejectedRow.row_number.label("row"), RejectedRow.column, RejectedRow.value, RejectedRow.reason)
            .where(RejectedRow.import_id == import_id)
            .order_by(RejectedRow.row_number, RejectedRow.id),
        )


__all__ = [
    "ImportReport",
    "ProcureError",
    "import_approvals",
    "import_catalogue",
    "import_contracts",
    "import_ratings",
    "import_suppliers",
    "import_tiers",
    "import_trusts",
    "import_usage",
    "list_imports",
    "rejected_rows",
]
