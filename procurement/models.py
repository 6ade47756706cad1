"""All table models of the engine, in one module (no circular imports).

The schema is created and upgraded through Alembic migrations in
``procurement/migrations``; ``tests/procurement/test_migrations.py`` checks that the
migrations and these models describe the same schema.

Relations (see ../shared/DESIGN.md):

* ``Category`` 1-n ``EquivalenceGroup`` (both loaded from ``catalogues/taxonomy.toml``).
* ``Supplier`` 1-n ``ProductLine`` n-1 ``EquivalenceGroup``; ``ProductLine`` 1-n
  ``CatalogueItem`` (one orderable SKU); ``CatalogueItem`` 1-n ``ItemPrice`` (one row
  per catalogue version that listed the SKU: the price history).
* Every imported file is one ``DataImport`` (kind ``catalogue``, ``usage``,
  ``contracts``...), with its ``RejectedRow`` rows. A catalogue import is a version of
  that supplier's catalogue: imports are never overwritten.
* ``Usage`` (trust, item, period, quantity, unit price paid) gives demand and the
  baseline prices; ``Contract`` the trusts' current agreements; ``VolumeTier`` the
  suppliers' regional offers; ``ClinicalRating`` the ODEP ratings; ``Approval`` the
  append-only clinical decisions (latest wins); ``SwitchingCost`` the one-off costs of
  moving a trust onto a supplier's system or line (the newest file's rows in force).
* ``Scenario`` and ``ScenarioRun`` record what was solved, how and with what result.

Money is stored as float GBP ex VAT, rounded to pennies on import.

Note: no ``from __future__ import annotations`` here; SQLModel evaluates annotations
at runtime.
"""

import datetime as dt

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    """Timezone-aware now (SQLModel stores datetimes as UTC and requires tz-aware values)."""
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- reference


class Trust(SQLModel, table=True):
    """An NHS acute trust (ODS-style code such as ``RXA``)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    region: str = ""


class Supplier(SQLModel, table=True):
    """An implant supplier. ``gs1_prefix`` (optional) is its GS1 company prefix."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    gs1_prefix: str | None = None


class Category(SQLModel, table=True):
    """A procurement category (hip, knee, trauma...), loaded from the taxonomy file."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    odep_applies: bool = False


class EquivalenceGroup(SQLModel, table=True):
    """A clinical need whose product lines are substitutable (e.g. cemented stem)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    category_id: int = Field(foreign_key="category.id", index=True)


# --------------------------------------------------------------------------- imports


class DataImport(SQLModel, table=True):
    """One imported file. ``kind`` says what it was (catalogue, usage, contracts, ...).

    For catalogues this is the catalogue version (DESIGN.md's ``CatalogueImport``):
    ``version`` counts the supplier's catalogue imports from 1. ``sha256`` is the hash
    of the file's bytes; an identical file is never imported twice for the same kind
    and supplier/trust.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    file_name: str
    sha256: str = Field(index=True)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    trust_id: int | None = Field(default=None, foreign_key="trust.id", index=True)
    profile: str | None = None
    version: int = 1
    imported_at: dt.datetime = Field(default_factory=utcnow)
    imported_by: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    new_lines: int = 0
    price_changes: int = 0


class ImportRevert(SQLModel, table=True):
    """An import undone by ``procure imports revert`` (its ``DataImport`` stays, for the audit)."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="dataimport.id", index=True, unique=True)
    reverted_at: dt.datetime = Field(default_factory=utcnow)
    reverted_by: str = ""
    note: str = ""


class ReplacedRows(SQLModel, table=True):
    """Rows an import deleted, updated or inserted, kept so that the import can be reverted.

    ``action`` is ``deleted`` (the rows as they were, re-inserted on revert), ``updated``
    (the rows before the import changed them, written back) or ``inserted`` (the rows
    the import added, removed on revert). ``rows`` holds them as JSON (pandas "split"
    orientation); ``source_import_id`` is the import that had written them, where the
    table records it, so that "a later import replaced rows of import N" is one query.
    """

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="dataimport.id", index=True)
    table_name: str
    action: str
    source_import_id: int | None = Field(default=None, index=True)
    rows: str = "{}"


class RejectedRow(SQLModel, table=True):
    """A row of an imported file that could not be used, and why."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="dataimport.id", index=True)
    row_number: int
    column: str = ""
    value: str = ""
    reason: str
    raw: str = ""


# --------------------------------------------------------------------------- catalogue


class ProductLine(SQLModel, table=True):
    """The unit of standardisation: one supplier's brand in one group, all sizes."""

    __table_args__ = (UniqueConstraint("supplier_id", "group_id", "brand"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    group_id: int = Field(foreign_key="equivalencegroup.id", index=True)
    brand: str
    first_import_id: int | None = Field(default=None, foreign_key="dataimport.id")


class CatalogueItem(SQLModel, table=True):
    """One orderable SKU. Price fields hold the latest version; history in ItemPrice."""

    __table_args__ = (UniqueConstraint("supplier_id", "supplier_code"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (supplier_id, supplier_code) index leads with it
    # (migration 0012 dropped the one that duplicated it: one index less per SKU written).
    supplier_id: int = Field(foreign_key="supplier.id")
    product_line_id: int = Field(foreign_key="productline.id", index=True)
    # Usage files name items by code (any supplier's) and the identity check looks codes
    # up across suppliers: the unique (supplier_id, supplier_code) index cannot serve those.
    supplier_code: str = Field(index=True)
    gtin: str | None = Field(default=None, index=True)
    description: str
    size: str = ""
    pack_size: int = 1
    unit_price: float
    source_import_id: int = Field(foreign_key="dataimport.id")
    source_row: int
    active: bool = True


class ItemPrice(SQLModel, table=True):
    """The price of a SKU in one catalogue version (the price history)."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="catalogueitem.id", index=True)
    import_id: int = Field(foreign_key="dataimport.id", index=True)
    unit_price: float
    pack_size: int
    source_row: int


class ClinicalRating(SQLModel, table=True):
    """An ODEP rating for a product line (``item_id`` set when rated per SKU).

    ``rating`` is ODEP's label (``10A*``, ``7A``, ``3B``, ``Pre-entry``); ``years`` is
    the evidence in years (0 for pre-entry) and ``strength`` the letter with ``*``.
    ``rank`` orders ratings: higher is stronger evidence (see ``procurement.ratings``).
    """

    id: int | None = Field(default=None, primary_key=True)
    product_line_id: int = Field(foreign_key="productline.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="catalogueitem.id")
    scheme: str = "ODEP"
    rating: str
    years: int
    strength: str
    rank: int
    import_id: int = Field(foreign_key="dataimport.id")


# --------------------------------------------------------------------------- trusts


class Usage(SQLModel, table=True):
    """What a trust bought: quantity of one SKU at the unit price it actually paid."""

    # Two indexes serve the checks every usage import runs, and they are what inserting
    # a file's rows costs (each index an insert per row):
    # * an order line's identity led by its SKU (SKU, date, quantity, price, trust):
    #   "the same order lines already stored as another trust's" is a search per line of
    #   the file; it also serves every look-up by SKU (the foreign key, reverts);
    # * a trust's months (trust, date, SKU, quantity): replacing the months a file spans
    #   and each trust's history before a file's first date are ranges of it. A file's
    #   rows are one trust's, so they go into one stretch of it, not all over.
    # Covering: neither check reads the table. (Until migration 0011 the order-line
    # index was led by the date and SKU and trust had indexes of their own: one
    # file's rows then landed all over three indexes instead of one.)
    __table_args__ = (
        Index("ix_usage_item_line", "item_id", "period", "quantity", "unit_price_paid", "trust_id"),
        Index("ix_usage_trust_period", "trust_id", "period", "item_id", "quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trust_id: int = Field(foreign_key="trust.id")
    item_id: int = Field(foreign_key="catalogueitem.id")
    period: dt.date
    quantity: float
    unit_price_paid: float
    import_id: int = Field(foreign_key="dataimport.id", index=True)
    source_row: int


class Contract(SQLModel, table=True):
    """A trust's current contract with a supplier for a category.

    Leaving before ``end`` needs ``notice_months`` of notice and is impossible when
    ``early_exit`` is False; it costs ``exit_fee`` GBP plus ``exit_fee_pct`` percent of
    the remaining value (the trust's monthly spend on the contract times the months
    left). A contract ending before the trust joins the regional agreement is bridged
    for up to ``extension_months`` at ``extension_uplift_pct`` on its prices; after
    that the trust buys off contract at the supplier's catalogue prices.
    """

    id: int | None = Field(default=None, primary_key=True)
    trust_id: int = Field(foreign_key="trust.id", index=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    reference: str = ""
    start: dt.date
    end: dt.date
    notice_months: int = 0
    early_exit: bool = True
    exit_fee: float = 0.0
    exit_fee_pct: float = 0.0
    extension_months: int = 0
    extension_uplift_pct: float = 0.0
    import_id: int = Field(foreign_key="dataimport.id")


class SwitchingCost(SQLModel, table=True):
    """A one-off cost of moving a trust onto a supplier's system or product line (GBP).

    One row per accepted file row and product line it names (a ``brand`` row without
    ``group`` names every line of that brand). ``trust_id`` None: every trust (``ALL``
    in the file). ``product_line_id`` None: the supplier's whole system in
    ``category_id`` (instrument sets, training, consignment stock shared by its lines),
    paid once per trust that does not use the system today. ``kind`` is
    ``instruments``, ``training``, ``consignment``, ``other`` or None. Versioned: every
    switching-costs import keeps its rows; the newest import's rows are in force
    (``procurement.scenarios.switching.costs_in_force``).
    """

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="dataimport.id", index=True)
    trust_id: int | None = Field(default=None, foreign_key="trust.id")
    supplier_id: int = Field(foreign_key="supplier.id")
    category_id: int = Field(foreign_key="category.id")
    product_line_id: int | None = Field(default=None, foreign_key="productline.id")
    kind: str | None = None
    cost: float
    note: str = ""
    source_row: int


class VolumeTier(SQLModel, table=True):
    """One tier of a supplier's regional offer (all-units semantics).

    An offer (``offer_code``) covers a category or a single group (``scope``), is
    measured in ``units`` or ``spend`` (GBP at list price) and has tiers of increasing
    ``threshold`` and ``discount_pct``: once regional volume reaches a threshold, the
    discount applies to every unit in scope.
    """

    __table_args__ = (UniqueConstraint("supplier_id", "offer_code", "threshold"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    offer_code: str
    category_id: int | None = Field(default=None, foreign_key="category.id")
    group_id: int | None = Field(default=None, foreign_key="equivalencegroup.id")
    basis: str
    threshold: float
    discount_pct: float
    import_id: int = Field(foreign_key="dataimport.id")


class Approval(SQLModel, table=True):
    """A clinical decision on a product line (append-only; the latest wins).

    ``trust_id`` is None for the regional clinical panel. ``decision`` is one of
    ``approve``, ``reject``, ``conditional``. ``odep_exception`` records that the
    clinician approves the line despite an ODEP rating below the scenario's floor.
    """

    id: int | None = Field(default=None, primary_key=True)
    trust_id: int | None = Field(default=None, foreign_key="trust.id", index=True)
    product_line_id: int = Field(foreign_key="productline.id", index=True)
    decision: str
    odep_exception: bool = False
    clinician: str
    role: str = ""
    decided_at: dt.datetime
    comment: str = ""
    source_sha256: str = ""
    import_id: int | None = Field(default=None, foreign_key="dataimport.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- scenarios


class Scenario(SQLModel, table=True):
    """A named set of scenario settings (JSON text)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    parameters: str = "{}"
    created_at: dt.datetime = Field(default_factory=utcnow)
    created_by: str = ""


class ScenarioRun(SQLModel, table=True):
    """One solve of a scenario: solver, status, objective, bound, gap and timings."""

    id: int | None = Field(default=None, primary_key=True)
    scenario_id: int = Field(foreign_key="scenario.id", index=True)
    solver: str
    status: str
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    lp_bound: float | None = None
    global_bound: float | None = None  # bounds every plan of the whole problem (screened or not)
    global_gap: float | None = None
    global_bound_method: str = ""
    greedy_objective: float | None = None
    build_seconds: float | None = None
    solve_seconds: float | None = None
    input_hash: str = ""
    message: str = ""
    started_at: dt.datetime = Field(default_factory=utcnow)
    run_by: str = ""
    settings: str = "{}"
    in_year_savings: float | None = None
    full_year_savings: float | None = None
    n_variables: int | None = None
    n_constraints: int | None = None
    common_end_date: dt.date | None = None  # the regional agreement ends for every trust then


# --------------------------------------------------------------------------- run results
# One row per solution element; every figure a report shows is recomputable from these.


class RunAllocation(SQLModel, table=True):
    """Annual units of a trust's demand placed on a product line in the run's solution."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    line_id: int = Field(foreign_key="productline.id")
    units: float
    regional_price: float
    discount: float
    net_price: float
    annual_cost: float
    is_new: bool


class RunLine(SQLModel, table=True):
    """Whether a candidate product line is kept in the regional range."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    line_id: int = Field(foreign_key="productline.id")
    kept: bool
    units: float


class RunTier(SQLModel, table=True):
    """The tier each supplier offer reaches on aggregated regional volume or spend."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    offer: str
    supplier_id: int = Field(foreign_key="supplier.id")
    threshold: float
    discount: float
    volume: float


class RunJoin(SQLModel, table=True):
    """When a trust moves a category onto the regional agreement (None: it stays out)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    category_id: int = Field(foreign_key="category.id")
    joins: bool
    join_month: int | None = None
    join_date: dt.date | None = None
    months_on: int = 0
    exit_fee_paid: float = 0.0
    bridging_cost: float = 0.0
    off_contract_cost: float = 0.0
    annual_baseline: float = 0.0
    annual_regional_cost: float = 0.0


class RunContract(SQLModel, table=True):
    """One current contract in a run: its terms as solved, when its volume joins, and what it costs.

    The terms are a copy of the register's at the time of the run (a later register
    replaces ``Contract`` rows), so a stored run can be re-checked on its own: months
    count from the scenario's start; ``earliest_exit_month`` is the decision month plus
    the notice (None: no early exit); ``notice_by_month`` the last month notice can be
    served for the chosen join (negative: before the start). ``reason_code`` and
    ``wait_reason`` are the solver's (``solver.solution.contract_report``), ``reason``
    the same in words.
    """

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    category_id: int = Field(foreign_key="category.id")
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id")
    reference: str = ""
    current_end: dt.date
    end_month: int
    notice_months: int = 0
    early_exit: bool = True
    exit_fee: float = 0.0
    exit_fee_pct: float = 0.0
    extension_months: int | None = None
    extension_uplift_pct: float = 0.0
    earliest_exit_month: int | None = None
    join_month: int | None = None
    join_date: dt.date | None = None
    notice_by_month: int | None = None
    notice_by: dt.date | None = None
    exit_fee_gbp: float = 0.0
    bridging_months: int = 0
    bridging_gbp: float = 0.0
    off_contract_months: int = 0
    off_contract_gbp: float = 0.0
    monthly_spend_gbp: float = 0.0
    monthly_savings_gbp: float = 0.0
    reason_code: str = ""
    wait_reason: str | None = None
    reason: str = ""


class RunSaving(SQLModel, table=True):
    """Net savings over the horizon by trust, category and cause (they add up to the objective)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    category_id: int = Field(foreign_key="category.id")
    cause: str
    amount: float


class RunSavingYear(SQLModel, table=True):
    """Net savings by trust, category and NHS financial year (April to March)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    category_id: int = Field(foreign_key="category.id")
    financial_year: str
    amount: float


class RunSwitching(SQLModel, table=True):
    """A switching cost the run's plan pays: a trust's new system (``line_id`` None) or line.

    ``kind`` as in ``SwitchingCost`` (None also for the scenario's fallback per new
    line). Per (trust, category) the costs add up to minus the ``switching_costs`` cause.
    """

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scenariorun.id", index=True)
    trust_id: int = Field(foreign_key="trust.id")
    supplier_id: int = Field(foreign_key="supplier.id")
    category_id: int = Field(foreign_key="category.id")
    line_id: int | None = Field(default=None, foreign_key="productline.id")
    kind: str | None = None
    cost: float


RUN_RESULT_TABLES = (
    RunAllocation,
    RunLine,
    RunTier,
    RunJoin,
    RunContract,
    RunSaving,
    RunSavingYear,
    RunSwitching,
)
"""Every table holding one run's results (rows keyed by ``run_id``): what deleting a run removes."""


# --------------------------------------------------------------------------- shortlists


class ShortlistExport(SQLModel, table=True):
    """One clinician shortlist workbook sent out (``procure shortlist export``).

    ``trust_id`` is None for the regional clinical panel's shortlist; ``scenario_id``
    and ``run_id`` name the run whose range the workbook shows, if any. ``snapshot``
    is JSON: every locked cell's value by sheet and cell address, and which product
    line each decision row is. The import compares the returned workbook with it and
    refuses any change outside the decision, reason and clinician-name cells.
    """

    id: int | None = Field(default=None, primary_key=True)
    trust_id: int | None = Field(default=None, foreign_key="trust.id", index=True)
    scenario_id: int | None = Field(default=None, foreign_key="scenario.id")
    run_id: int | None = Field(default=None, foreign_key="scenariorun.id")
    file_name: str = ""
    created_at: dt.datetime = Field(default_factory=utcnow)
    created_by: str = ""
    file_sha256: str = Field(default="", index=True)
    snapshot: str = "{}"


class ApprovalOverride(SQLModel, table=True):
    """A decision from a stale shortlist taken over a newer one with ``--override``: why."""

    id: int | None = Field(default=None, primary_key=True)
    approval_id: int = Field(foreign_key="approval.id", index=True)
    overridden_approval_id: int = Field(foreign_key="approval.id")
    reason: str
