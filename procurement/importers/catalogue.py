"""Supplier catalogues: each file is the supplier's next catalogue version.

Rows are read through a mapping profile (named, or recognised from the header),
normalised, classified into the taxonomy's equivalence groups and stored as SKUs of
product lines (supplier + group + brand), with their price history.
"""

import contextlib
import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.classify import Taxonomy
from catalogues.normalise import clean_text, normalise_gtin, parse_money, parse_pack, slug_of
from catalogues.read import (
    ROW_COLUMN,
    FileFormatError,
    Profile,
    detect_profile,
    load_profile,
    read_catalogue,
    shipped_profiles,
)
from catalogues.xlsx_files import load_readers
from procurement.db import table_of
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers.ahead import import_in_order
from procurement.importers.core import (
    FileImporter,
    ImportReport,
    Problems,
    as_text_table,
    insert_columns,
    insert_rows,
    item_rows_where,
    load_taxonomy_or_refuse,
    owner_id,
    plain_values,
    read_bytes,
    refuse_if_no_rows,
    sql_records,
)
from procurement.importers.replaced import keep_rows, not_reverted
from procurement.models import CatalogueItem, DataImport, EquivalenceGroup, ItemPrice, ProductLine, Supplier
from procurement.reference import core_execute, frame, suppliers_by_code


def _resolve_profile(path: Path, profile_name: str | None) -> Profile:
    try:
        return load_profile(profile_name) if profile_name else detect_profile(path)
    except LookupError as exc:
        raise UnknownReferenceError(str(exc.args[0])) from exc
    except FileFormatError as exc:
        raise InputFileError(str(exc)) from exc


def _check_supplier_identity(
    session: Session, supplier: Supplier, gtins: list[str], codes: list[str], file_name: str
) -> None:
    """Refuse a file that is evidently another supplier's catalogue (before any write).

    ``gtins``: the accepted rows' GTINs (those they have), ``codes``: their supplier codes.
    Evidence: the GTINs' GS1 company prefixes, and the GTINs and codes already
    imported under other suppliers. A new supplier's first file is judged by prefix only.
    """
    prefixes = select(col(Supplier.code), col(Supplier.gs1_prefix)).where(col(Supplier.id) != supplier.id)
    others = dict(core_execute(session, prefixes).all())  # code -> GS1 prefix
    if len(gtins) >= 5 and supplier.gs1_prefix:
        # The share of GTIN-13s (a GTIN-14's last 13 digits) starting with the prefix.
        own_share = sum(map(str.startswith, gtins, repeat(supplier.gs1_prefix), repeat(1))) / len(gtins)
        if own_share < 0.5:
            gtin13 = pd.Series(gtins, dtype=object).str.slice(1)
            best = max(
                ((code, gtin13.str.startswith(prefix).mean()) for code, prefix in others.items() if prefix),
                key=lambda kv: kv[1],
                default=("", 0.0),  # never named: the hint needs a share >= 0.5
            )
            hint = f"; {best[1]:.0%} carry {best[0]}'s prefix {others[best[0]]}" if best[1] >= 0.5 else ""
            raise InputFileError(
                f"{file_name}: only {own_share:.0%} of its GTINs carry {supplier.code}'s GS1 "
                f"prefix {supplier.gs1_prefix}{hint}. Is this the right supplier? Nothing was written."
            )
    if not codes:
        return
    for column, values in (("gtin", set(gtins)), ("supplier_code", set(codes))):
        if not values:
            continue
        # Only the catalogue items holding one of the file's values, not every item of
        # every supplier (at national scale that was most of an import's time).
        at = 1 if column == "gtin" else 2  # in item_rows_where's (item_id, gtin, supplier_code, supplier)
        held: dict[str, set] = {}  # the file's values each supplier's items hold
        for row in item_rows_where(session, column, values):
            held.setdefault(row[3], set()).add(row[at])
        own = len(held.pop(supplier.code, ())) / len(values)
        # The supplier holding most of them (the first by code, of several).
        other = max(sorted(held), key=lambda code: len(held[code]), default=None)
        if other is not None and len(held[other]) / len(values) >= 0.5 and own < 0.1:
            raise InputFileError(
                f"{file_name}: {len(held[other])} of its {len(values)} {column.replace('_', ' ')}s are "
                f"already in {other}'s catalogue and {own:.0%} in {supplier.code}'s: it looks like "
                f"{other}'s file. Refused under {supplier.code}; nothing was written."
            )
        if column == "gtin":
            break  # GTINs are the stronger evidence; codes only when there are none


_VERSIONS = (  # a supplier's catalogue versions so far (its imports not reverted)
    select(func.count())
    .select_from(DataImport)
    .where(
        col(DataImport.kind) == "catalogue",
        col(DataImport.supplier_id) == bindparam("supplier_id"),
        not_reverted(),
    )
)


@dataclass
class _Prepared:
    """A catalogue file read and normalised ahead, in a worker process (``import_catalogues``):
    what ``read`` and the database-free part of ``check`` compute, for the file as it was
    when its bytes hashed to ``sha256``."""

    sha256: str
    rules: tuple  # the taxonomy's rules it was classified by
    profile: Profile
    problems: Problems  # ``thinned``: its ``table`` holds the row numbers alone
    accepted: "_Accepted"  # ``_normalise_catalogue``'s rows without a problem, as the store writes them


class _CatalogueImport(FileImporter):
    kind = "catalogue"
    uses_taxonomy = True

    def __init__(
        self,
        *,
        supplier: str,
        profile: str | None,
        user: str | None,
        taxonomy: Taxonomy | None,
        prepared: _Prepared | None = None,
    ):
        super().__init__(user=user, taxonomy=taxonomy)
        self.supplier_code = supplier.strip().upper()
        self.profile_name = profile
        self.prepared = prepared  # used only if the file still hashes the same (``read``)

    def owner(self, session: Session) -> dict[str, int]:
        # One look-up by code; every code only to name them when the supplier is unknown.
        supplier = session.scalars(select(Supplier).where(col(Supplier.code) == self.supplier_code)).first()
        if supplier is None or supplier.id is None:
            owner_id(suppliers_by_code(session), self.supplier_code, "supplier")  # refuses it
            raise AssertionError("owner_id refuses an unknown supplier")
        self.supplier = supplier
        return {"supplier_id": supplier.id}

    def read(self, session: Session, path: Path, report: ImportReport) -> pd.DataFrame:
        assert self.taxonomy is not None  # loaded by run (uses_taxonomy)
        if self.prepared is not None and (
            self.prepared.sha256 != report.sha256 or self.prepared.rules != self.taxonomy.rules
        ):
            self.prepared = None  # the file or the taxonomy changed since it was read ahead: read it again
        if self.prepared is not None:
            self.profile, table = self.prepared.profile, self.prepared.problems.table
        else:
            self.profile, table = self.rows(path)
        report.profile = self.profile.name
        if not self.profile_name:
            report.notes.append(f"layout recognised as profile {self.profile.name!r}")
        return table

    def rows(self, path: Path) -> tuple[Profile, pd.DataFrame]:
        """The file's profile and rows (``read`` without the report; no database needed)."""
        prof = _resolve_profile(path, self.profile_name)
        if prof.supplier and prof.supplier != self.supplier_code:
            raise InputFileError(
                f"{path.name}: profile {prof.name!r} is {prof.supplier}'s layout, not {self.supplier_code}'s; "
                "check --supplier. Nothing was written."
            )
        try:
            raw = read_catalogue(path, prof)
        except FileFormatError as exc:
            raise InputFileError(str(exc)) from exc
        # Before anything is written: an empty price list would discontinue every SKU.
        refuse_if_no_rows(path, raw)
        raw.attrs["headings"] = dict(prof.columns)
        return prof, as_text_table(raw)

    def problems_of(self, table: pd.DataFrame) -> Problems:
        if self.prepared is not None:
            return self.prepared.problems  # those _normalise_catalogue found ahead
        return super().problems_of(table)

    def check(self, session: Session, raw: pd.DataFrame, problems: Problems, report: ImportReport) -> "_Accepted":
        assert self.taxonomy is not None  # loaded by run (uses_taxonomy)
        if self.prepared is not None:
            accepted = self.prepared.accepted
        else:
            accepted = _Accepted.of(_normalise_catalogue(raw, self.profile, self.taxonomy, problems), problems)
        # The accepted rows' GTINs (those they have) and codes: all the check reads.
        gtins = [gtin for gtin in accepted.gtin if gtin is not None]
        _check_supplier_identity(session, self.supplier, gtins, accepted.supplier_code, report.file)
        report.version = 1 + core_execute(session, _VERSIONS, {"supplier_id": self.supplier.id}).scalar_one()
        return accepted

    def store(
        self, session: Session, accepted: "_Accepted", good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        # ``accepted`` holds the rows ``good`` names already (``check`` took them).
        _store_catalogue(session, self.supplier, accepted, import_id, report)


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

    See ``procurement.importers.core`` for the transaction contract and docs/formats.md
    for what happens to each row.
    """
    return _CatalogueImport(supplier=supplier, profile=profile, user=user, taxonomy=taxonomy).run(engine, path)


@dataclass(frozen=True)
class CatalogueFile:
    """One supplier price file for ``import_catalogues``: as ``import_catalogue``'s arguments."""

    path: Path
    supplier: str
    profile: str | None = None


def import_catalogues(
    engine: Engine,
    files: Iterable[CatalogueFile],
    *,
    user: str | None = None,
    taxonomy: Taxonomy | None = None,
    workers: int = 1,
    on_report: Callable[[ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Import several price files, in order, each exactly as ``import_catalogue`` would.

    One transaction per file, in the order given (the same ids and versions as importing
    them one by one); the first file that raises stops the run, the files before it
    staying imported. Meanwhile ``workers`` worker processes read and normalise the files
    ahead (the part of an import that needs no database: reading the CSV or XLSX,
    parsing, classifying, the in-file duplicate checks), so that on several cores the
    next file is parsed while this process checks and stores the previous one; while the
    workers are behind, this process reads the last file none has begun. A file whose
    read-ahead failed, or that changed since, is read again in its import, so its errors
    are the ones ``import_catalogue`` gives. ``workers=0`` reads every file here.
    ``on_report`` receives each file's report as soon as the file is imported.
    """
    files = list(files)

    def import_one(f: CatalogueFile, prepared: _Prepared | None) -> ImportReport:
        importer = _CatalogueImport(
            supplier=f.supplier, profile=f.profile, user=user, taxonomy=taxonomy, prepared=prepared
        )
        return importer.run(engine, Path(f.path))

    return import_in_order(
        files,
        prepare=functools.partial(_prepare, taxonomy=taxonomy),
        import_one=import_one,
        workers=workers,
        # XLSX files cost several times more to read than CSV files of their size: the workers
        # read them first, and this process steals only the others (CSV files).
        ahead_first=_looks_xlsx,
        warm_up=functools.partial(_warm_up, taxonomy),
        initializer=load_readers if any(map(_looks_xlsx, files)) else None,
        on_report=on_report,
    )


def _warm_up(taxonomy: Taxonomy | None) -> None:
    """Load, before the workers are forked, what every process reading the files needs: the
    taxonomy (into ``load_taxonomy``'s per-process cache; where it cannot be loaded each
    import says why) and the shipped profiles. Workers forked afterwards start with them,
    and no task carries a taxonomy to them. The XLSX reader is loaded by the workers as
    they start (``load_readers``), while this process imports its first file: this
    process reads CSV files, and needs it only for an XLSX file no worker has begun."""
    with contextlib.suppress(InputFileError):
        load_taxonomy_or_refuse(taxonomy)
    shipped_profiles()


def _looks_xlsx(f: CatalogueFile) -> bool:
    return Path(f.path).suffix.lower() in (".xlsx", ".xlsm")


def _prepare(f: CatalogueFile, taxonomy: Taxonomy | None = None) -> _Prepared:
    """Read and normalise one file (``import_catalogues``), in a worker or in the importing
    process; raises as ``read`` would."""
    path = Path(f.path)
    _, sha = read_bytes(path)
    importer = _CatalogueImport(supplier=f.supplier, profile=f.profile, user=None, taxonomy=None)
    taxonomy = load_taxonomy_or_refuse(taxonomy)
    prof, table = importer.rows(path)
    problems = Problems(table, table.attrs.get("headings", {}))
    # The rows as the store writes them, made here: in a worker, off the importing process.
    accepted = _Accepted.of(_normalise_catalogue(table, prof, taxonomy, problems), problems)
    return _Prepared(sha, taxonomy.rules, prof, problems.thinned(), accepted)


@dataclass
class _Accepted:
    """A file's rows without a problem, as the store writes them: plain lists (missing GTINs,
    descriptions and sizes None), in the file's order; ``listed``: every row's code, the
    rejected rows' included (a SKU whose row was rejected is still listed)."""

    supplier_code: list[str]
    gtin: list[str | None]
    description: list[str | None]
    size: list[str | None]
    pack_size: list[int]
    unit_price: list[float]
    source_row: list[int]
    group: list[str]
    brand: list[str]
    listed: list[str]

    @classmethod
    def of(cls, items: pd.DataFrame, problems: Problems) -> "_Accepted":
        """The rows of ``_normalise_catalogue``'s ``items`` without a problem in ``problems``."""
        rows = items[~problems.bad().to_numpy()]
        return cls(
            supplier_code=rows["supplier_code"].tolist(),
            gtin=plain_values(rows["gtin"]),
            description=plain_values(rows["description"]),
            size=plain_values(rows["size"]),
            pack_size=rows["pack_size"].astype(int).tolist(),
            unit_price=rows["unit_price"].astype(float).tolist(),
            source_row=rows["source_row"].astype(int).tolist(),
            group=rows["group"].tolist(),
            brand=rows["brand"].tolist(),
            listed=items["supplier_code"].tolist(),
        )


def _normalise_catalogue(raw: pd.DataFrame, prof: Profile, tax: Taxonomy, problems: Problems) -> pd.DataFrame:
    """One row per file row: code, GTIN, texts, pack size, unit price (ex VAT, per unit), group.

    Unit price = price / pack size (a price per pack) / (1 + VAT rate) (a price with VAT),
    rounded to the penny. Each unusable value goes into ``problems``.
    """
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
    parts = zip(text["component"].tolist(), text["description"].tolist(), text["brand"].tolist(), strict=True)
    group = tax.classify(pd.Series([f"{c} {d} {b}" for c, d, b in parts], index=raw.index, dtype=object))
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
    return items


_DETAILS = ["gtin", "description", "brand", "size", "pack_size", "unit_price", "group"]


def _flag_duplicates(items: pd.DataFrame, problems: Problems) -> None:
    """Exact repeats of a code: keep the first. Same code, different details: refuse all.

    Among the rows without problems so far; then a GTIN on two of the rows left is refused
    on both. Counted with dictionaries over the few repeated rows (pandas' grouping cost
    more than the counting, once per file); a row's details are compared as text, missing
    values as "" (what ``astype("string").fillna("")`` gives, without pandas' conversions).
    """
    codes = items["supplier_code"].to_numpy(dtype=object)
    ok = np.flatnonzero(~problems.bad().to_numpy())
    repeated = _repeated(codes, ok)
    if len(repeated):
        details = [items[c].to_numpy(dtype=object)[repeated] for c in _DETAILS]
        joined = ["|".join(map(_detail_text, row)) for row in zip(*details, strict=True)]
        signature = dict(zip(repeated.tolist(), joined, strict=True))
        rows = items["source_row"].to_numpy()
        by_code: dict[str, list[int]] = {}
        for i in repeated.tolist():
            by_code.setdefault(codes[i], []).append(i)
        conflicting = np.full(len(items), "", dtype=object)
        exact = np.full(len(items), "", dtype=object)
        for positions in by_code.values():
            if len({signature[i] for i in positions}) > 1:
                listed = ", ".join(str(rows[i]) for i in positions)
                conflicting[positions] = "same supplier code with different details on rows " + listed
            else:
                exact[positions[1:]] = f"exact duplicate of row {rows[positions[0]]}"
        for reasons in (conflicting, exact):
            problems.add(
                pd.Series(reasons != "", index=items.index), "supplier_code", pd.Series(reasons, index=items.index)
            )
    gtins = items["gtin"].to_numpy(dtype=object)
    with_gtin = np.flatnonzero(~problems.bad().to_numpy() & items["gtin"].notna().to_numpy())
    shared = np.zeros(len(items), dtype=bool)
    shared[_repeated(gtins, with_gtin)] = True
    if shared.any():
        problems.add(
            pd.Series(shared, index=items.index), "gtin", "GTIN shared by different supplier codes in this file"
        )


def _repeated(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """The positions in ``among`` (ascending) whose value occurs more than once at those positions."""
    listed = values[among].tolist()
    times = Counter(listed)
    return among[np.fromiter(map(times.__getitem__, listed), dtype=np.int64, count=len(listed)) > 1]


def _detail_text(value: object) -> str:
    """A detail as ``astype("string").fillna("")`` writes it: missing (None, NA, NaN) as ""."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


_ITEMS_OF: Select = select(  # a supplier's SKUs as stored
    col(CatalogueItem.id).label("item_id"),
    col(CatalogueItem.supplier_code),
    col(CatalogueItem.unit_price).label("old_price"),
    col(CatalogueItem.active),
).where(col(CatalogueItem.supplier_id) == bindparam("supplier_id"))
_ITEM, _PRICE = table_of(CatalogueItem), table_of(ItemPrice)
_PRICES_OF_IMPORT = insert(_PRICE).from_select(  # a price row per SKU an import wrote, in row order
    ["item_id", "import_id", "unit_price", "pack_size", "source_row"],
    select(_ITEM.c.id, _ITEM.c.source_import_id, _ITEM.c.unit_price, _ITEM.c.pack_size, _ITEM.c.source_row)
    .where(_ITEM.c.supplier_id == bindparam("supplier_id"), _ITEM.c.source_import_id == bindparam("import_id"))
    .order_by(_ITEM.c.source_row),
)
_GROUP_IDS = select(col(EquivalenceGroup.code), col(EquivalenceGroup.id))  # a group's id by its code
_LINES = (
    select(  # (line_id, group_id, brand) of a supplier's product lines
        col(ProductLine.id), col(ProductLine.group_id), col(ProductLine.brand)
    )
    .where(col(ProductLine.supplier_id) == bindparam("supplier_id"))
    .order_by(col(ProductLine.id))
)


def _stored_lines(session: Session, supplier_id: int) -> list[tuple[int, int, str]]:
    """(line_id, group_id, brand_key) of a supplier's product lines (oldest first), the brand as in line codes."""
    rows = core_execute(session, _LINES, {"supplier_id": supplier_id}).all()
    return [(line_id, group_id, slug_of(brand)) for line_id, group_id, brand in rows]


def _store_catalogue(
    session: Session, supplier: Supplier, rows: _Accepted, import_id: int, report: ImportReport
) -> None:
    """Write the accepted ``rows``; a code ``rows.listed`` holds (a rejected row's included) is
    still listed: its SKU keeps its previous price and status rather than being marked as no
    longer listed.
    """
    assert supplier.id is not None  # a stored supplier
    existing = frame(session, _ITEMS_OF, {"supplier_id": supplier.id})
    if len(existing):
        # Every SKU of the supplier as it was: a revert of this version steps back to it.
        keep_rows(session, import_id, CatalogueItem, col(CatalogueItem.supplier_id) == supplier.id, "updated")
    group_of = dict(core_execute(session, _GROUP_IDS).all())
    groups, brands = rows.group, rows.brand
    # Brands are matched as in the line's code (case and punctuation ignored), so that
    # "Exeter V40" and "EXETER-V40" are one line rather than two lines with one code.
    key_of_brand = {brand: slug_of(brand) for brand in set(brands)}  # a file names few brands
    keys = list(zip(map(group_of.__getitem__, groups), map(key_of_brand.__getitem__, brands), strict=True))
    lines = _stored_lines(session, supplier.id)
    known = {(group_id, brand_key) for _, group_id, brand_key in lines}
    # Each new line's first item (its group and brand name it), in the order the lines first appear.
    first_item = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))  # the first occurrence wins
    first_of = {key: i for key, i in sorted(first_item.items(), key=lambda kv: kv[1]) if key not in known}
    if first_of:
        new_lines = list(first_of.items())
        insert_columns(
            session,
            table_of(ProductLine),
            {
                "code": [f"{supplier.code}:{groups[i]}:{brand_key}" for (_, brand_key), i in new_lines],
                "supplier_id": supplier.id,
                "group_id": [int(group_id) for (group_id, _), _ in new_lines],
                "brand": [brands[i] for _, i in new_lines],
                "first_import_id": import_id,
            },
            len(new_lines),
        )
        lines = _stored_lines(session, supplier.id)
    report.new_lines = len(first_of)
    line_of: dict[tuple[int, str], int] = {}
    for line_id, group_id, brand_key in lines:
        # The oldest line of a key (two can share one only if this importer did not make them).
        line_of.setdefault((group_id, brand_key), line_id)
    line_ids = [line_of[key] for key in keys]

    # (supplier_id, supplier_code) is unique: at most one stored SKU per code.
    if len(existing):
        at = pd.Index(existing["supplier_code"]).get_indexer(rows.supplier_code)
    else:  # the supplier's first catalogue (the search would hash every code for nothing)
        at = np.full(len(rows.supplier_code), -1, dtype=np.intp)
    is_new = at < 0
    columns = {
        "supplier_id": supplier.id,
        "product_line_id": line_ids,
        "supplier_code": rows.supplier_code,
        "gtin": rows.gtin,  # a missing GTIN goes in as NULL
        "description": rows.description,
        "size": rows.size,
        "pack_size": rows.pack_size,
        "unit_price": rows.unit_price,
        "source_import_id": import_id,
        "source_row": rows.source_row,
        "active": True,
    }
    if is_new.all():  # a first catalogue, or only new SKUs: every row goes in as it is
        insert_columns(session, table_of(CatalogueItem), columns, len(rows.supplier_code))
    else:
        records = pd.DataFrame(columns)
        if is_new.any():
            insert_rows(session, table_of(CatalogueItem), records[is_new])
        found = at[~is_new]
        session.execute(
            update(CatalogueItem),
            sql_records(records[~is_new].assign(id=existing["item_id"].to_numpy()[found].astype(int))),
        )
        old_price = existing["old_price"].to_numpy(dtype=float)[found]
        changed = np.abs(np.asarray(rows.unit_price, dtype=float)[~is_new] - old_price) >= 0.005
        report.price_changes = int(changed.sum())
    report.new_items = int(is_new.sum())
    gone = (
        existing[~existing["supplier_code"].isin(rows.listed) & existing["active"].astype(bool)]
        if len(existing)
        else existing
    )
    if len(gone):
        session.execute(
            update(CatalogueItem),
            [{"id": int(i), "active": False} for i in gone["item_id"]],
        )
    report.discontinued = len(gone)
    # One price row per SKU this file wrote (new or updated: exactly the SKUs whose source
    # is this import), in the file's row order, copied in SQL from the rows just stored.
    core_execute(session, _PRICES_OF_IMPORT, {"supplier_id": supplier.id, "import_id": import_id})
    if report.version and report.version > 1:
        report.notes.append(
            f"catalogue version {report.version}: {report.new_items} new SKUs, "
            f"{report.price_changes} price changes, {report.discontinued} no longer listed"
        )
