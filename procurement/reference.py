"""Reference data in the database: taxonomy sync, code-to-id look-ups as frames, and the
two helpers that name a row's trust, supplier, category, group or line by code in a query."""

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import CursorResult, Label, Select, insert, select, update
from sqlmodel import Session, col

from catalogues.classify import Taxonomy
from procurement.db import lock_for_write
from procurement.models import CatalogueItem, Category, EquivalenceGroup, ProductLine, Supplier, Trust


def sync_taxonomy(session: Session, taxonomy: Taxonomy) -> None:
    """Insert the taxonomy's categories and groups that the database lacks; update names.

    Groups are never deleted: product lines and history refer to them. When rows are
    missing (a first import), other imports may be adding them at the same moment: the
    lock makes the second one wait and then find them. Every import of a catalogue calls
    this: when the database already holds the taxonomy as it is (the usual case), two
    reads find that and nothing else is done.
    """
    if _taxonomy_stored(session, taxonomy):
        return
    if not (
        set(taxonomy.categories["code"]) <= set(session.scalars(select(col(Category.code))))
        and set(taxonomy.groups["code"]) <= set(session.scalars(select(col(EquivalenceGroup.code))))
    ):
        lock_for_write(session, "taxonomy")
    existing = {c.code: c for c in session.scalars(select(Category))}
    for row in taxonomy.categories.itertuples(index=False):  # a handful of categories
        if row.code in existing:
            cat = existing[row.code]
            cat.name, cat.odep_applies = row.name, bool(row.odep_applies)
        else:
            session.add(Category(code=row.code, name=row.name, odep_applies=bool(row.odep_applies)))
    session.flush()
    cat_ids = {c.code: c.id for c in session.scalars(select(Category))}
    groups = taxonomy.groups.assign(category_id=lambda g: g["category"].map(cat_ids))
    known = frame(
        session,
        select(
            col(EquivalenceGroup.id),
            col(EquivalenceGroup.code),
            col(EquivalenceGroup.name).label("old_name"),
            col(EquivalenceGroup.category_id).label("old_category_id"),
        ),
    )
    merged = groups.merge(known, on="code", how="left")
    new = merged[merged["id"].isna()]
    if len(new):
        session.execute(
            insert(EquivalenceGroup),
            new[["code", "name", "category_id"]].to_dict("records"),
        )
    # Only changed groups are updated: an UPDATE locks its rows until the import commits.
    old = merged[
        merged["id"].notna()
        & ((merged["name"] != merged["old_name"]) | (merged["category_id"] != merged["old_category_id"]))
    ]
    if len(old):
        session.execute(
            update(EquivalenceGroup),
            old.assign(id=old["id"].astype(int))[["id", "name", "category_id"]].to_dict("records"),
        )
    session.flush()


CODED: dict[str, type[Trust | Supplier | Category | EquivalenceGroup | ProductLine]] = {
    "trust": Trust,
    "supplier": Supplier,
    "category": Category,
    "group": EquivalenceGroup,
    "line": ProductLine,
}
"""The reference tables a query names rows of by ``code``, by the role the code plays."""


def codes(*roles: str, **labelled: str) -> list[Label[str]]:
    """The ``code`` column of each reference table named, labelled by its role or, for the
    keyword ones, by the keyword: ``select(*codes("trust", product_line="line"), ...)``
    selects columns ``trust`` (the trust's code) and ``product_line`` (the line's)."""
    named = {role: role for role in roles} | {label: role for label, role in labelled.items()}
    return [col(CODED[role].code).label(label) for label, role in named.items()]


def join_codes(query: Select, keys: Mapping[str, Any], *, outer: Collection[str] = ()) -> Select:
    """``query`` joined, in order, to the reference table of each role in ``keys`` (role -> the
    column holding that table's id), so that ``codes(...)`` can be selected.

    An inner join unless the role is in ``outer``: an optional key (a null id gives a null code).
    """
    for role, key in keys.items():
        table = CODED[role]
        on = col(table.id) == key
        query = query.outerjoin(table, on) if role in outer else query.join(table, on)
    return query


def line_keys(line_id: Any) -> dict[str, Any]:
    """``join_codes`` keys naming a product line (``line_id``), its supplier, group and category."""
    return {
        "line": line_id,
        "supplier": ProductLine.supplier_id,
        "group": ProductLine.group_id,
        "category": EquivalenceGroup.category_id,
    }


_STORED_CATEGORIES = select(col(Category.code), col(Category.name), col(Category.odep_applies))
_STORED_GROUPS = select(col(EquivalenceGroup.code), col(EquivalenceGroup.name), col(Category.code)).join(
    Category, col(Category.id) == col(EquivalenceGroup.category_id)
)


def _taxonomy_stored(session: Session, taxonomy: Taxonomy) -> bool:
    """Whether every category (name, ODEP flag) and group (name, category) of ``taxonomy`` is stored as it is."""
    categories = {tuple(row) for row in core_execute(session, _STORED_CATEGORIES)}
    groups = {tuple(row) for row in core_execute(session, _STORED_GROUPS)}
    wanted_categories, wanted_groups = taxonomy.as_stored
    return wanted_categories <= categories and wanted_groups <= groups


def core_execute(session: Session, statement, parameters: dict | None = None) -> CursorResult:
    """Run ``statement`` in Core on the session's connection (in its transaction).

    For plain columns: the ORM's machinery (compiling for entities, row loading, identity
    map) costs more than a small query, and imports run several per file. The explicit
    flush stands in for the ORM's autoflush.
    """
    session.flush()
    return session.connection().execute(statement, parameters)


def frame(session: Session, statement, parameters: dict | None = None) -> pd.DataFrame:
    """Run a SELECT (with its bound ``parameters``) and return its rows as a DataFrame with the
    selected column names."""
    result = core_execute(session, statement, parameters)
    columns = list(result.keys())
    # Plain tuples: pandas turns each Row into one anyway, but more slowly (same dtypes).
    return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=columns)


def code_map(session: Session, model) -> dict[str, int]:
    return dict(core_execute(session, select(model.code, model.id)).all())


def trusts_by_code(session: Session) -> dict[str, int]:
    return code_map(session, Trust)


def suppliers_by_code(session: Session) -> dict[str, int]:
    return code_map(session, Supplier)


def groups_frame(session: Session) -> pd.DataFrame:
    """group_id, group, group_name, category_id, category, odep_applies."""
    return frame(
        session,
        select(
            col(EquivalenceGroup.id).label("group_id"),
            col(EquivalenceGroup.code).label("group"),
            col(EquivalenceGroup.name).label("group_name"),
            col(Category.id).label("category_id"),
            col(Category.code).label("category"),
            col(Category.odep_applies),
        ).join(Category, col(Category.id) == col(EquivalenceGroup.category_id)),
    )


def lines_frame(session: Session) -> pd.DataFrame:
    """line_id, line, supplier_id, supplier, brand, group_id, group, category."""
    lines = frame(
        session,
        select(
            col(ProductLine.id).label("line_id"),
            col(ProductLine.code).label("line"),
            col(ProductLine.supplier_id),
            col(Supplier.code).label("supplier"),
            col(ProductLine.brand),
            col(ProductLine.group_id),
        ).join(Supplier, col(Supplier.id) == col(ProductLine.supplier_id)),
    )
    return lines.merge(groups_frame(session)[["group_id", "group", "category"]], on="group_id")


def items_frame(session: Session, *, active_only: bool = False) -> pd.DataFrame:
    """item_id, line_id, supplier_code, supplier, description of every catalogue SKU (or only the active ones).

    A supplier code is unique per supplier only: ``supplier`` and ``supplier_code`` together name a SKU.
    """
    query: Select = select(
        col(CatalogueItem.id).label("item_id"),
        col(CatalogueItem.product_line_id).label("line_id"),
        col(CatalogueItem.supplier_code),
        col(Supplier.code).label("supplier"),
        col(CatalogueItem.description),
    ).join(Supplier, col(Supplier.id) == col(CatalogueItem.supplier_id))
    if active_only:
        query = query.where(col(CatalogueItem.active).is_(True))
    return frame(session, query)


def catalogue_prices(session: Session) -> pd.Series:
    """Each product line's catalogue (list) price: the mean unit price of its active SKUs, by line_id."""
    items = frame(
        session,
        select(col(CatalogueItem.product_line_id).label("line_id"), col(CatalogueItem.unit_price)).where(
            col(CatalogueItem.active).is_(True)
        ),
    )
    return items.groupby("line_id")["unit_price"].mean()
