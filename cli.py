"""``procure``: the command-line front of the engine.

Thin by design: each command parses its options, calls one library function in
``procurement``, and prints the result (a table on a terminal, JSON with ``--json``).
Domain errors become a one-line message and a documented exit code:

0 done (rows may have been rejected: see the summary), 1 the command could not do its
job (including configuration errors: a missing database, a bad URL, a missing driver),
2 an input file is unusable (nothing written), 3 an unknown code, name or profile,
70 an internal error (a bug: set PROCURE_DEBUG=1 to see the traceback).

Why one file of about 1,600 lines: the design card fixes ``cli.py`` at the top level,
and every command in it is a thin table row or a parse-call-print function; the logic
lives in ``procurement``.
"""

import contextlib
import contextvars
import functools
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from procurement import importers as imp
from procurement import textformat as fmt
from procurement.errors import ProcureError

if TYPE_CHECKING:  # imported when a command first opens the database
    from sqlalchemy import Engine

EXIT_INTERNAL = 70
# Commands that may create the database they are pointed at (every other one refuses a missing SQLite file).
CREATING_COMMANDS = (("import",), ("db", "init"), ("demo",))
# Piped output is not squeezed into 80 columns: tables are meant to be pasted and grepped.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 400)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 400)


class AppContext:
    def __init__(self, db: str | None, user: str | None):
        self.db_url = db
        self.user = user
        self._engine: Engine | None = None

    @property
    def engine(self):
        if self._engine is None:
            from procurement.dburl import connect

            # Only commands that write may create a database: a mistyped --db path read
            # from is refused rather than created empty (procurement.dburl).
            ctx = click.get_current_context(silent=True)
            words = ctx.command_path.split()[1:] if ctx else []
            creating = any(words[: len(w)] == list(w) for w in CREATING_COMMANDS)
            self._engine = connect(self.db_url, create=creating)
        return self._engine


def _jsonable(value):
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict("records")]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def print_json(payload) -> None:
    click.echo(json.dumps(_jsonable(payload), indent=2, ensure_ascii=False))


# The output format a read command was asked for (--format); print_table honours it.
OUTPUT_FORMAT: contextvars.ContextVar[str] = contextvars.ContextVar("output_format", default="table")
FORMATS = ("table", "csv", "tsv", "json")


def _is_percent(column: str) -> bool:
    return "discount" in column or column.endswith("_share") or column == "share"


def _is_count(column: str) -> bool:
    return "units" in column


def print_table(
    df: pd.DataFrame, title: str | None = None, money: tuple[str, ...] = (), max_rows: int | None = None
) -> None:
    """A table on a terminal (rich; cells are data, never markup; long cells fold to fit
    80 columns), or CSV/TSV of the raw values under ``--format csv|tsv``.

    Money columns read ``-£1,050,000.00``; discounts and shares as percentages; units as
    whole numbers.
    """
    chosen = OUTPUT_FORMAT.get()
    if chosen in ("csv", "tsv"):
        click.echo(df.to_csv(sep="," if chosen == "csv" else "\t", index=False, lineterminator="\n"), nl=False)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[column])
        table.add_column(escape(str(column)), justify="right" if numeric else "left", overflow="fold")
    shown = df if max_rows is None else df.head(max_rows)
    kinds = [
        {"is_money": c in money, "is_percent": _is_percent(str(c)), "is_count": _is_count(str(c))} for c in df.columns
    ]
    for row in shown.itertuples(index=False):  # printing: rows are few
        # Cell values are user data, never markup.
        table.add_row(*(escape(fmt.cell(v, **k)) for k, v in zip(kinds, row, strict=True)))
    out.print(table)
    if max_rows is not None and len(df) > max_rows:
        out.print(f"... {len(df) - max_rows} more")


def format_option(fn):
    """``--format table|csv|tsv|json`` on a read command; ``json`` is the same as ``--json``."""

    @click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default=None,
        help="Output: a table (default), csv or tsv of the tables, or json.",
    )
    @functools.wraps(fn)
    def wrapper(*args, output_format: str | None = None, **kwargs):
        if output_format == "json":
            kwargs["as_json"] = True
        token = OUTPUT_FORMAT.set(output_format or "table")
        try:
            return fn(*args, **kwargs)
        finally:
            OUTPUT_FORMAT.reset(token)

    return wrapper


def _fail(message: str, code: int, as_json: bool) -> None:
    """Exit with ``code``; with --json also a JSON object on stdout (the message is on stderr)."""
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False))
    sys.exit(code)


def _database_message(exc) -> str:
    """One sentence for a database error; a lock held too long by another command is named."""
    from procurement.db import TIMEOUT_ENV, lock_timeout

    detail = str(getattr(exc, "orig", None) or exc).strip()
    if "database is locked" in detail or "lock timeout" in detail:
        try:
            waited = f"{lock_timeout():g} s"
        except ProcureError:
            waited = "the time allowed"
        return (
            f"the database is locked by another command that is writing to it; waited {waited} and gave up. "
            f"Try again when it has finished, or wait longer with {TIMEOUT_ENV}=SECONDS."
        )
    return escape(f"database problem: {detail}")


def handle_errors(fn):
    """Turn domain errors into messages and exit codes; never show a traceback to a user."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except ProcureError as exc:
            # Messages quote user data (file names, cell values): never read them as markup.
            err.print("[bold red]Error:[/] " + escape(str(exc)), highlight=False)
            _fail(str(exc), exc.exit_code or 1, as_json)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                message = _database_message(exc)
                err.print("[bold red]Error:[/] " + message, highlight=False)
                _fail(message, 1, as_json)
            if os.environ.get("PROCURE_DEBUG"):
                raise
            err.print(
                f"[bold red]Internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in procure; run again with PROCURE_DEBUG=1 for the details.",
                highlight=False,
            )
            _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL, as_json)

    return wrapper


def working(message: str, quiet: bool = False):
    """A spinner on a terminal for a long step; nothing when piped or with --json."""
    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return err.status(message, spinner="dots")


@contextlib.contextmanager
def solving(name: str, quiet: bool = False):
    """Like :func:`working`, and yields a progress callback that rewrites the spinner's line
    ("NAME: stage · elapsed · best plan · global bound · gap", within 80 columns for a
    short name) as a long solve goes on; None when piped or with --json."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with err.status(f"Building and solving {name} ...", spinner="dots") as status:
        yield lambda state: status.update(f"{name}: {fmt.progress_line(state)}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="PROCURE_DB",
    metavar="URL",
    help="Database URL [env PROCURE_DB; default sqlite:///procure.db in the current directory].",
)
@click.option("--user", envvar="PROCURE_USER", help="Who is acting, for the audit trail [default: OS user].")
@click.version_option(package_name="procure")
@click.pass_context
def main(ctx: click.Context, db: str | None, user: str | None) -> None:
    """Regional orthopaedic procurement: catalogues, demand, savings scenarios.

    \b
    Example:
      procure demo --out demo-region
      procure --db sqlite:///demo-region/procure.db demand
    """
    ctx.obj = AppContext(db, user)


# --------------------------------------------------------------------------- import


@main.group("import")
def import_group() -> None:
    """Import a file: trusts, suppliers, catalogue, usage, contracts, tiers, ratings, approvals.

    One file is one transaction: a file that cannot be used changes nothing.
    Formats: docs/formats.md.

    \b
    Example:
      procure import trusts trusts.csv
      procure import catalogue supplier-a-2026.xlsx --supplier SUP-A
    """


def _show_report(
    report: imp.ImportReport, as_json: bool, summary: Callable[[], str], rejects_table: bool = True
) -> None:
    """JSON; or the duplicate line; or ``summary()``, the notes and the first rejected rows
    (only where to find them without ``rejects_table``)."""
    if as_json:
        print_json(report.to_dict())
        return
    if report.duplicate_of:
        out.print(
            f"{report.file}: identical to import #{report.duplicate_of}; already imported, nothing written",
            markup=False,
            highlight=False,
        )
        return
    out.print(summary(), markup=False, highlight=False)
    for note in report.notes:
        out.print(f"  note: {note}", markup=False, highlight=False)
    if report.rows_rejected:
        if rejects_table:
            print_table(report.rejects, max_rows=10)
        out.print(f"  all rejected rows: procure rejects --import {report.import_id}", highlight=False)


def _import_summary(report: imp.ImportReport, label: str) -> str:
    """``FILE -> LABEL: N rows read, N accepted, N rejected[, catalogue counts] (import #N)``."""
    parts = [
        f"{report.rows_read} rows read",
        f"{report.rows_accepted} accepted",
        f"{report.rows_rejected} rejected",
    ]
    if report.kind == "catalogue":
        parts += [f"{report.new_lines} new product lines", f"{report.price_changes} price changes"]
    return f"{report.file} -> {label}: " + ", ".join(parts) + f" (import #{report.import_id})"


def _catalogue_label(supplier: str, report: imp.ImportReport) -> str:
    """What a price file became: ``SUP-A catalogue v2`` (the supplier alone if nothing was written)."""
    return f"{supplier} catalogue v{report.version}" if report.version else supplier


@dataclass(frozen=True)
class ImportCommand:
    """One ``procure import KIND FILE`` command: its importer, options and output label.

    Each option becomes a keyword argument of ``importer`` (besides ``user``); ``label``
    names what the file became in the summary line, a format string over the options or
    a function of the options and the report; ``spinner`` for imports that take a while.
    """

    kind: str
    importer: Callable[..., imp.ImportReport]
    help: str
    label: str | Callable[[dict, imp.ImportReport], str]
    options: tuple[Callable, ...] = ()
    spinner: bool = False


IMPORT_COMMANDS = (
    ImportCommand(
        "trusts",
        imp.import_trusts,
        "Add or update trusts (code, name, region).\n\nExample: procure import trusts trusts.csv",
        label="trusts",
    ),
    ImportCommand(
        "suppliers",
        imp.import_suppliers,
        "Add or update suppliers (code, name, gs1_prefix).\n\nExample: procure import suppliers suppliers.csv",
        label="suppliers",
    ),
    ImportCommand(
        "catalogue",
        imp.import_catalogue,
        "Import a supplier's price file (CSV or XLSX) as its next catalogue version.\n\n"
        "Example: procure import catalogue supplier-a-2026.xlsx --supplier SUP-A",
        label=lambda o, report: _catalogue_label(o["supplier"], report),
        options=(
            click.option("--supplier", required=True, help="Supplier code the file belongs to."),
            click.option("--profile", help="Mapping profile name or .toml path [default: recognised from the header]."),
        ),
        spinner=True,
    ),
    ImportCommand(
        "contracts",
        imp.import_contracts,
        "Import the contracts register (replaces the listed trusts' contracts).\n\n"
        "Example: procure import contracts contracts.csv",
        label="contracts",
    ),
    ImportCommand(
        "tiers",
        imp.import_tiers,
        "Import supplier volume/spend tier offers (replaces the listed suppliers' offers).\n\n"
        "Example: procure import tiers tiers.csv",
        label="tier offers",
    ),
    ImportCommand(
        "ratings",
        imp.import_ratings,
        "Import ODEP ratings per product line or SKU.\n\nExample: procure import ratings odep.csv",
        label="ODEP ratings",
    ),
    ImportCommand(
        "switching-costs",
        imp.import_switching_costs,
        "Import one-off switching costs per trust (or ALL) and supplier system or product line;\n"
        "the file replaces the earlier figures.\n\n"
        "Example: procure import switching-costs switching-costs.csv",
        label=lambda o, report: f"switching costs v{report.version}" if report.version else "switching costs",
    ),
    ImportCommand(
        "approvals",
        imp.import_approvals,
        "Append clinicians' decisions to the approval history (latest wins).\n\n"
        "Example: procure import approvals approvals.csv",
        label="approvals",
    ),
)


def _add_import_command(spec: ImportCommand) -> None:
    """Register ``procure import KIND``: parse, call ``spec.importer``, print its report."""

    def command(app: AppContext, file: Path, as_json: bool, **options) -> None:
        with working(f"Importing {file} ...", quiet=as_json or not spec.spinner):
            report = spec.importer(app.engine, file, user=app.user, **options)
        label = spec.label.format(**options) if isinstance(spec.label, str) else spec.label(options, report)
        _show_report(report, as_json, lambda: _import_summary(report, label))

    command.__name__ = f"import_{spec.kind}_cmd"
    decorators = [
        import_group.command(spec.kind, help=spec.help),
        click.argument("file", type=click.Path(path_type=Path)),
        *spec.options,
        json_option,
        pass_app,
        handle_errors,
    ]
    for decorator in reversed(decorators):
        command = decorator(command)


for _spec in IMPORT_COMMANDS:
    _add_import_command(_spec)


# Of the commands importing a folder or list of files.
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="For a folder or list: processes reading the next files ahead while one is stored (0: read each in turn).",
)


@import_group.command("catalogues")
@click.argument("path", type=click.Path(path_type=Path))
@workers_option
@json_option
@pass_app
@handle_errors
def import_catalogues_cmd(app: AppContext, path: Path, workers: int, as_json: bool) -> None:
    """Import several supplier price files: a folder of them, or a CSV list.

    In a folder each file is named after its supplier's code (SUP-A.xlsx, SUP-B.csv); a list
    has the columns file, supplier and profile (optional). Every file must belong to a known
    supplier before any is imported; then each is imported as `procure import catalogue`
    would, one transaction each, in order.

    \b
    Example:
      procure import catalogues catalogues/
      procure import catalogues price-files.csv
    """

    def landed(file: imp.CatalogueFile, report: imp.ImportReport) -> None:
        if not as_json:  # a line or two per file; each file's rejected rows: procure rejects
            label = _catalogue_label(file.supplier, report)
            _show_report(report, False, lambda: _import_summary(report, label), rejects_table=False)

    reports = imp.import_catalogue_set(app.engine, path, user=app.user, workers=workers, on_report=landed)
    _show_set(reports, as_json, "price files")


@import_group.command("usage")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--trust",
    help="Trust code the usage file belongs to. Without it, PATH is a folder of usage files named "
    "after trust codes (RXA.csv) or a CSV list of them (columns file, trust).",
)
@click.option(
    "--confirm-trust",
    is_flag=True,
    help="The file (one, with --trust) is this trust's although its item mix looks like another trust's usage.",
)
@workers_option
@json_option
@pass_app
@handle_errors
def import_usage_cmd(
    app: AppContext, path: Path, trust: str | None, confirm_trust: bool, workers: int, as_json: bool
) -> None:
    """Import a trust's usage export (item, quantity, unit price paid, date), or several.

    One file with --trust. Without --trust, PATH is a folder of usage files each named
    after its trust's code (RXA.csv, RXB.xlsx), or a CSV list with the columns file and
    trust; every file must belong to a known trust before any is imported; then each is
    imported as one file with --trust would be, one transaction each, in order.

    \b
    Example:
      procure import usage rxa-usage.csv --trust RXA
      procure import usage usage/
    """
    if trust is None:
        if confirm_trust:
            raise click.UsageError("--confirm-trust is for one file: give its --trust too")

        def landed(file: imp.UsageFile, report: imp.ImportReport) -> None:
            if not as_json:  # a line or two per file; each file's rejected rows: procure rejects
                _show_report(report, False, lambda: _import_summary(report, f"{file.trust} usage"), rejects_table=False)

        reports = imp.import_usage_set(app.engine, path, user=app.user, workers=workers, on_report=landed)
        _show_set(reports, as_json, "usage files")
        return
    if path.is_dir():
        raise click.UsageError(
            f"{path} is a folder: without --trust every usage file in it is imported, each named after its trust's code"
        )
    with working(f"Importing {path} ...", quiet=as_json):
        report = imp.import_usage(app.engine, path, trust=trust, user=app.user, confirm_trust=confirm_trust)
    _show_report(report, as_json, lambda: _import_summary(report, f"{trust} usage"))


def _show_set(reports: list[imp.ImportReport], as_json: bool, what: str) -> None:
    """A set's JSON (``files``: each report; ``imported``: how many were), or its summary line."""
    if as_json:
        print_json({"files": [r.to_dict() for r in reports], "imported": sum(r.import_id is not None for r in reports)})
        return
    imported = [r for r in reports if r.import_id is not None]
    again = sum(r.duplicate_of is not None for r in reports)
    read = sum(r.rows_read for r in imported)
    summary = f"{len(reports)} {what}: {len(imported)} imported ({read:,} rows read)"
    out.print(summary + (f", {again} already imported before" if again else ""), highlight=False)


# --------------------------------------------------------------------------- inspect


@main.group("imports", invoke_without_command=True)
@json_option
@format_option
@click.pass_context
def imports_group(ctx: click.Context, as_json: bool) -> None:
    """List every imported file: kind, file, version, counts, who and when; `revert N` undoes one.

    \b
    Example:
      procure imports
      procure imports revert 14
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(imports_cmd, as_json=as_json)


@pass_app
@handle_errors
def imports_cmd(app: AppContext, as_json: bool) -> None:
    table = imp.list_imports(app.engine)
    if as_json:
        print_json(table)
        return
    print_table(
        table[
            [
                "id",
                "kind",
                "file_name",
                "version",
                "rows_read",
                "rows_accepted",
                "rows_rejected",
                "new_lines",
                "price_changes",
                "imported_by",
                "imported_at",
                "reverted",
            ]
        ]
    )


@imports_group.command("revert")
@click.argument("import_id", type=int, metavar="N")
@json_option
@pass_app
@handle_errors
def imports_revert_cmd(app: AppContext, import_id: int, as_json: bool) -> None:
    """Undo import N in one transaction: its rows go, what it replaced comes back.

    A usage file's replaced months, a register's replaced contracts, the supplier's
    previous catalogue version come back; the import stays in `procure imports` and
    `procure audit`, marked reverted, and the same file can be imported again. Refused
    (exit 1, nothing changed) where later data depends on it, saying what to revert first.

    Example: procure imports revert 14
    """
    from procurement.importers.revert import revert_import

    result = revert_import(app.engine, import_id, user=app.user)
    if as_json:
        print_json(result)
        return
    changes = "; ".join(f"{n} {what}" for what, n in result["changes"].items()) or "nothing else to undo"
    out.print(
        f"reverted import #{import_id} ({result['kind']} {result['file']}): {changes}",
        markup=False,
        highlight=False,
    )


@main.command("rejects")
@click.option("--import", "import_id", type=int, required=True, help="Import number (see `procure imports`).")
@json_option
@format_option
@pass_app
@handle_errors
def rejects_cmd(app: AppContext, import_id: int, as_json: bool) -> None:
    """Show every rejected row of one import: row, column, value, reason.

    Example: procure rejects --import 3
    """
    table = imp.rejected_rows(app.engine, import_id)
    if as_json:
        print_json(table)
    elif table.empty:
        out.print(f"import #{import_id} rejected no rows")
    else:
        print_table(table, title=f"Rejected rows of import #{import_id}")


@main.command("audit")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["import", "approval", "run"]),
    multiple=True,
    help="Only this kind of record (repeatable) [default: all three].",
)
@click.option("--since", metavar="DATE", help="Only records made on or after DATE (YYYY-MM-DD, UTC).")
@json_option
@format_option
@pass_app
@handle_errors
def audit_cmd(app: AppContext, kinds: tuple[str, ...], since: str | None, as_json: bool) -> None:
    """The audit trail: every import, clinical decision and scenario run, who and when.

    Imports show the file, its sha256 and counts; approvals the trust, product line,
    decision, clinician, the source file's sha256 and who recorded it; runs the status,
    objective and the sha256 of the data solved. Trace any figure to its files and decisions.

    \b
    Example:
      procure audit --kind approval --since 2026-04-01
      procure audit --kind run --json
    """
    from procurement.audit import audit_trail

    trail = audit_trail(app.engine, kinds=kinds, since=since)
    if as_json:
        print_json(trail)
        return
    columns = {
        "imports": [
            "import_id",
            "kind",
            "file",
            "sha256",
            "supplier",
            "trust",
            "rows_read",
            "rows_accepted",
            "rows_rejected",
            "who",
            "when",
            "reverted",
        ],
        "approvals": [
            "approval_id",
            "trust",
            "product_line",
            "decision",
            "clinician",
            "decided_at",
            "source_file",
            "source_sha256",
            "recorded_by",
            "recorded_at",
        ],
        "runs": ["run_id", "scenario", "status", "objective", "gap", "input_hash", "who", "when"],
    }
    for key, table in trail.items():
        if table.empty:
            out.print(f"no {key} recorded" + (f" since {since}" if since else ""), highlight=False)
        else:
            print_table(table[columns[key]], title=f"Audit: {key}", money=("objective",))


@main.command("approvals")
@click.option("--trust", help="Only this trust's decisions (REGIONAL: the regional clinical panel's).")
@json_option
@pass_app
@handle_errors
def approvals_cmd(app: AppContext, trust: str | None, as_json: bool) -> None:
    """The clinical decisions in force (the latest per trust and product line): who, when, which file.

    \b
    Example:
      procure approvals --trust RXA
      procure approvals --json
    """
    from procurement.approvals import decisions_in_force

    table = decisions_in_force(app.engine, trust=trust)
    if as_json:
        print_json(table)
    elif table.empty:
        out.print("no clinical decisions recorded" + (f" for {trust}" if trust else ""), highlight=False)
    else:
        shown = ["trust", "product_line", "decision", "clinician", "decided_at", "source_file", "recorded_by"]
        if table["override_reason"].ne("").any():
            shown.append("override_reason")
        print_table(table[shown], title="Clinical decisions in force")


@main.command("demand")
@click.option(
    "--by",
    type=click.Choice(["group", "line", "region"]),
    default="group",
    show_default=True,
    help="Per trust and group, per trust and product line (with price premiums), or regional totals.",
)
@click.option("--trust", "trusts", multiple=True, help="Only these trusts (repeatable).")
@json_option
@format_option
@pass_app
@handle_errors
def demand_cmd(app: AppContext, by: str, trusts: tuple[str, ...], as_json: bool) -> None:
    """Annual demand and baseline spend at the prices each trust actually paid.

    Example: procure demand --by line --trust RXA
    """
    from procurement.demand import demand_report

    report = demand_report(app.engine, list(trusts) or None)
    if as_json:
        print_json(
            {
                "by": by,
                "rows": report[{"group": "by_group", "line": "by_line", "region": "regional"}[by]],
                "regional": report["regional"],
            }
        )
        return
    if by == "line":
        print_table(
            report["by_line"],
            title="Demand per trust and product line (annual)",
            money=("spend_per_year", "avg_unit_price", "best_price_in_region"),
        )
    elif by == "group":
        print_table(
            report["by_group"],
            title="Demand per trust and group (annual)",
            money=("spend_per_year", "avg_unit_price"),
        )
    regional = report["regional"]
    print_table(
        regional,
        title="Regional totals (annual)",
        money=("spend_per_year", "avg_unit_price", "min_trust_price", "max_trust_price"),
    )
    if len(regional):
        out.print(
            f"Region: {fmt.count(regional['units_per_year'].sum())} units, "
            f"{fmt.money(regional['spend_per_year'].sum())} a year",
            highlight=False,
        )


@main.command("profiles")
@json_option
@format_option
@handle_errors
def profiles_cmd(as_json: bool) -> None:
    """List the shipped catalogue mapping profiles.

    Example: procure profiles
    """
    from catalogues.read import FileFormatError, shipped_profiles
    from procurement.errors import InputFileError

    try:
        profiles = shipped_profiles()
    except FileFormatError as exc:  # a broken profile file is bad input, not a bug
        raise InputFileError(str(exc)) from exc
    rows = pd.DataFrame(
        [
            {
                "name": p.name,
                "description": p.description,
                "supplier": p.supplier or "",
                "sheet": p.sheet or "",
                "price_per": p.price_per,
                "includes_vat": p.includes_vat,
            }
            for p in profiles
        ]
    )
    if as_json:
        print_json(rows)
    else:
        print_table(rows)


@main.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-region"),
    show_default=True,
    help="Directory for the generated files and procure.db.",
)
@click.option(
    "--size",
    type=click.Choice(["S", "M", "L"]),
    default="S",
    show_default=True,
    help="S: a 6-trust region; M: ~30 trusts; L: ~130 trusts (national).",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@json_option
@pass_app
@handle_errors
def demo_cmd(app: AppContext, out_dir: Path, size: str, seed: int, as_json: bool) -> None:
    """Generate a realistic synthetic region and run the whole job on it.

    The files are written as a user would receive them and imported through the same
    import commands; the database is OUT/procure.db unless --db is given.

    Example: procure demo --out demo-region
    """
    from procurement.demo import run_demo

    result = run_demo(
        out_dir, size=size, seed=seed, db_url=app.db_url, user=app.user, echo=None if as_json else out.print
    )
    if as_json:
        print_json(result)


# --------------------------------------------------------------------------- scenarios


@main.group("scenario")
def scenario_group() -> None:
    """Define, run, show and compare savings scenarios.

    Example: procure scenario compare all-six four-trusts
    """


def _scenario_options(fn):
    options = [
        click.option("--trusts", help="Comma-separated participating trusts [default: all with usage]."),
        click.option("--start", "start_date", help="Start of the regional agreement, YYYY-MM-DD."),
        click.option("--horizon", "horizon_months", type=int, help="Horizon in months [36]."),
        click.option("--grid", "join_grid_months", type=int, help="Join-date grid in months: 1 or 3 [3]."),
        click.option("--range-cap", type=int, help="Max product lines per group regionally [3]."),
        click.option("--trust-range-cap", type=int, help="Max lines per group per trust [2]."),
        click.option("--odep-floor", help="Minimum ODEP rating for hips and knees, e.g. 10A; 'none' for no floor."),
        click.option("--min-suppliers", type=int, help="Min suppliers per category [2]."),
        click.option("--max-share", "max_supplier_share", type=float, help="Max share of a category per supplier."),
        click.option("--year-one-cap", type=float, help="Max share of a trust's units moved in year one."),
        click.option("--switching-cost", type=float, help="One-off GBP per new line at a trust [15000]."),
        click.option("--participation", type=click.Choice(["all", "optional"]), help="Must every trust join?"),
        click.option("--regional-price", type=click.Choice(["best_paid", "catalogue"])),
        click.option("--price-change", "price_change_pct", type=float, help="Sensitivity: regional prices +X%."),
        click.option(
            "--line-price",
            "line_prices",
            multiple=True,
            metavar="LINE=PRICE",
            help="What-if: this line's regional unit price (repeatable).",
        ),  # fmt: skip
        click.option("--solver", type=click.Choice(["highs", "cbc"])),
        click.option("--time-limit", type=float, help="Solver time limit in seconds [60]."),
        click.option("--gap", "gap_rel", type=float, help="Relative optimality gap to stop at [1e-4]."),
        click.option(
            "--decision-date",
            help="When notice on current contracts can first be served, YYYY-MM-DD"
            " [start minus 6 months, or today if later].",
        ),
        click.option(
            "--max-joins-per-quarter",
            type=click.IntRange(min=1),
            help="Programme capacity: at most N (trust, category) pairs join the agreement a quarter [no limit].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _parse_line_prices(items: tuple[str, ...]) -> dict[str, float]:
    """``("SUP-A:HIP-STEM-CEM:EXETER=812.5", ...)`` -> ``{line: price}``."""
    prices = {}
    for item in items:
        line, sep, price = item.rpartition("=")
        try:
            prices[line.strip()] = float(price)
        except ValueError:
            sep = ""
        if not sep or not line.strip():
            raise click.UsageError(f"--line-price {item!r}: expected LINE=PRICE, e.g. SUP-A:HIP-STEM-CEM:EXETER=812.50")
    return prices


@scenario_group.command("define")
@click.argument("name", required=False)
@click.option("--file", "file", type=click.Path(path_type=Path), help="TOML file of [scenarios.NAME] tables.")
@click.option("--replace", is_flag=True, help="Change the settings of a scenario that exists.")
@_scenario_options
@pass_app
@handle_errors
def scenario_define_cmd(app: AppContext, name: str | None, file: Path | None, replace: bool, **options) -> None:
    """Define a scenario from options, or every scenario in a TOML file.

    Every setting is checked at once (exit 2 for a value out of range, 3 for an unknown
    setting, trust or group). A scenario that exists is refused unless --replace.

    Example: procure scenario define four-trusts --trusts RXA,RXB,RXC,RXD --range-cap 2
    """
    from procurement.scenarios import ScenarioSettings, manage

    if file:
        names = manage.define_from_file(app.engine, file, user=app.user, replace=replace)
        out.print(f"defined {len(names)} scenario(s): {', '.join(names)}", highlight=False)
        return
    if not name:
        raise click.UsageError("give a scenario NAME or --file")
    values = {k: v for k, v in options.items() if v is not None}
    if values.get("line_prices") == ():
        del values["line_prices"]
    elif "line_prices" in values:
        values["line_prices"] = _parse_line_prices(values["line_prices"])
    if "trusts" in values:
        values["trusts"] = [t.strip() for t in values["trusts"].split(",") if t.strip()]
    if values.get("odep_floor", "").lower() == "none":
        values["odep_floor"] = None
    settings = ScenarioSettings.from_mapping(values, where=name)
    manage.define_scenario(app.engine, name, settings, user=app.user, replace=replace)
    out.print(f"defined scenario {name}", highlight=False, markup=False)


@scenario_group.command("delete")
@click.argument("name")
@json_option
@pass_app
@handle_errors
def scenario_delete_cmd(app: AppContext, name: str, as_json: bool) -> None:
    """Delete a scenario with its runs and their results.

    Example: procure scenario delete old-draft
    """
    from procurement.scenarios import delete_scenario

    n_runs = delete_scenario(app.engine, name)
    if as_json:
        print_json({"deleted": name, "runs_deleted": n_runs})
    else:
        out.print(f"deleted scenario {name} and {n_runs} run(s)", highlight=False, markup=False)


@scenario_group.command("copy")
@click.argument("name")
@click.argument("new")
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a setting of the copy (repeatable); values as --vary reads them (trusts=RXA+RXB).",
)
@click.option("--replace", is_flag=True, help="Overwrite NEW if it exists.")
@json_option
@pass_app
@handle_errors
def scenario_copy_cmd(
    app: AppContext, name: str, new: str, changes: tuple[str, ...], replace: bool, as_json: bool
) -> None:
    """Define scenario NEW as a copy of NAME, with some settings changed.

    Example: procure scenario copy all-six all-six-cap2 --set range_cap=2 --set odep_floor=7A
    """
    from sqlmodel import Session

    from procurement.scenarios import copy_scenario, get_settings, settings_diff

    with Session(app.engine) as session:
        _, before = get_settings(session, name)
    after = copy_scenario(app.engine, name, new, changes, user=app.user, replace=replace)
    diff = settings_diff(before, after).rename(columns={"before": name, "after": new})
    if as_json:
        print_json({"scenario": new, "copied_from": name, "changed": diff})
        return
    out.print(f"defined scenario {new} as a copy of {name}", highlight=False, markup=False)
    if len(diff):
        print_table(diff.astype(str), title="Settings changed")


@scenario_group.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--all", "every", is_flag=True, help="Every setting, not only those that differ.")
@json_option
@format_option
@pass_app
@handle_errors
def scenario_diff_cmd(app: AppContext, a: str, b: str, every: bool, as_json: bool) -> None:
    """Two scenarios' settings side by side (those that differ; --all for every one).

    Example: procure scenario diff all-six four-trusts
    """
    from procurement.scenarios import diff_scenarios

    table = diff_scenarios(app.engine, a, b, every=every)
    if as_json:
        print_json({"a": a, "b": b, "settings": table})
    elif not len(table):
        out.print(f"{a} and {b} have the same settings", highlight=False, markup=False)
    else:
        print_table(table.drop(columns=[] if every else ["differs"]).astype(str), title=f"Settings: {a} | {b}")


def _print_run(summary: dict) -> None:
    status = summary["status"]
    if status == "time_limit":
        limit = (summary.get("settings") or {}).get("time_limit")
        status += f" (stopped at the {limit:g} s time limit)" if limit else ""
    out.print(f"[bold]{escape(summary['scenario'])}[/] (run #{summary['run_id']}): {status}", highlight=False)
    if summary.get("message"):
        out.print(f"  {summary['message']}", highlight=False, markup=False)
    if summary["objective_gbp"] is None:
        return
    gap = summary["gap"]
    global_gap = summary.get("global_gap")
    out.print(
        f"  net savings over the horizon {fmt.money(summary['objective_gbp'])};"
        f" in-year {fmt.money(summary['in_year_gbp'])};"
        f" full-year run rate {fmt.money(summary['full_year_gbp'])}",
        highlight=False,
    )
    if global_gap is not None:
        out.print(
            f"  within {fmt.percent(global_gap)} of the best possible plan"
            f" (global bound {fmt.money(summary['global_bound_gbp'])}: {summary.get('global_bound_method') or ''})",
            highlight=False,
            markup=False,
        )
    out.print(
        f"  solver gap {fmt.percent(0 if gap is None else gap)}"
        f" (solver's bound {fmt.money(summary['best_bound_gbp'])});"
        f" LP bound {fmt.money(summary['lp_bound_gbp'])}; rule of thumb (greedy) {fmt.money(summary['greedy_gbp'])};"
        f" build {summary['build_seconds'] or 0:.2f} s, solve {summary['solve_seconds'] or 0:.2f} s",
        highlight=False,
    )
    causes = pd.DataFrame(
        {"cause": list(summary["savings_by_cause"]), "amount": list(summary["savings_by_cause"].values())}
    )
    print_table(causes, title="Savings by cause", money=("amount",))
    out.print(
        f"  range: {summary['range_size']} lines from {len(summary['suppliers_kept'])} suppliers",
        highlight=False,
    )
    for note in summary.get("notes", []):
        out.print(f"  note: {note}", highlight=False)


@scenario_group.command("run")
@click.argument("names", nargs=-1, required=True)
@click.option("--explain", is_flag=True, help="Also price each active rule (re-solves with it relaxed).")
@json_option
@pass_app
@handle_errors
def scenario_run_cmd(app: AppContext, names: tuple[str, ...], explain: bool, as_json: bool) -> None:
    """Solve scenarios and store their results.

    Example: procure scenario run all-six four-trusts --explain
    """
    from procurement.scenarios import runs

    results = []
    for name in names:
        with solving(name, as_json) as progress:
            summary = runs.run_scenario(app.engine, name, user=app.user, progress=progress)
        if explain and summary["objective_gbp"] is not None:
            with working(f"Pricing each rule of {name} (one re-solve per rule) ...", as_json):
                summary["price_of_rules"] = runs.price_of_rules(app.engine, name)
        results.append(summary)
        if not as_json:
            _print_run(summary)
            if "price_of_rules" in summary:
                print_table(
                    summary["price_of_rules"],
                    title="What each rule costs",
                    money=("objective_with_rule", "objective_without_rule", "price_gbp", "price_at_most_gbp"),
                )
    if as_json:
        print_json(results if len(results) > 1 else results[0])
    failed = [r for r in results if r["objective_gbp"] is None]
    if failed:
        sys.exit(1)


@scenario_group.command("show")
@click.argument("name")
@json_option
@format_option
@pass_app
@handle_errors
def scenario_show_cmd(app: AppContext, name: str, as_json: bool) -> None:
    """Show the latest run of a scenario: savings, kept range, join dates, contracts, tiers.

    Example: procure scenario show all-six
    """
    from procurement.scenarios import runs

    summary = runs.show_scenario(app.engine, name)
    if as_json:
        print_json(summary)
        return
    _print_run(summary)
    if summary.get("stale"):
        out.print(
            f"  stale: {summary['stale']} since this run; run it again: procure scenario run {summary['scenario']}",
            highlight=False,
            markup=False,
        )
    if summary.get("common_end_date"):
        out.print(f"  the regional agreement ends for every trust on {summary['common_end_date']}", highlight=False)
    kept = summary["range"]
    if len(kept):
        kept = kept.assign(trusts=kept["trusts"].map(lambda t: ", ".join(t)))
        print_table(kept[["group", "supplier", "brand", "line", "units", "trusts"]], title="Kept range per group")
    if len(summary["joins"]):
        print_table(summary["joins"], title="Join dates", money=("exit_fee_paid", "bridging_cost", "off_contract_cost"))
    contracts = summary["contracts"]
    if len(contracts):
        print_table(
            contracts[
                [
                    "trust",
                    "category",
                    "supplier",
                    "reference",
                    "current_end",
                    "notice_by",
                    "join_date",
                    "exit_fee_gbp",
                    "bridging_gbp",
                    "off_contract_gbp",
                    "reason",
                ]
            ],
            title="Current contracts: when each joins, and why",
            money=("exit_fee_gbp", "bridging_gbp", "off_contract_gbp"),
        )
    if len(summary["tiers_reached"]):
        print_table(summary["tiers_reached"], title="Tiers reached")
    if len(summary["switching"]):
        totals = runs.switching_totals(summary["switching"])
        print_table(totals["by_trust"], title="Switching costs by trust", money=("cost_gbp",))
        print_table(totals["by_system"], title="Switching costs by system", money=("cost_gbp",))


@scenario_group.command("list")
@json_option
@format_option
@pass_app
@handle_errors
def scenario_list_cmd(app: AppContext, as_json: bool) -> None:
    """List scenarios with their latest run.

    Example: procure scenario list
    """
    from procurement.scenarios import manage

    table = manage.list_scenarios(app.engine)
    if as_json:
        print_json(table)
    else:
        # 80 columns: the name, the latest run and whether it is stale (--json has everything).
        shown = table[["name", "run_id", "status", "objective", "run_at", "stale"]].rename(columns={"run_id": "run"})
        shown["run_at"] = pd.to_datetime(shown["run_at"]).dt.strftime("%Y-%m-%d %H:%M").fillna("")
        if OUTPUT_FORMAT.get() == "table":
            shown["objective"] = [fmt.money(v) for v in shown["objective"]]
        print_table(shown.fillna(""))


@scenario_group.command("compare")
@click.argument("names", nargs=-1)
@click.option("--sweep", "sweep_base", metavar="BASE", help="Also every scenario of the sweep of BASE (BASE[...]).")
@json_option
@format_option
@pass_app
@handle_errors
def scenario_compare_cmd(app: AppContext, names: tuple[str, ...], sweep_base: str | None, as_json: bool) -> None:
    """Set scenarios side by side: headline, causes, trusts, categories.

    When the scenarios' runs differ in exactly one setting (a sweep over range_cap, or
    over trusts), also a sensitivity table: net savings against that setting's values.

    \b
    Example:
      procure scenario compare all-six four-trusts one-line
      procure scenario compare --sweep all-six
    """
    from procurement.scenarios import compare_scenarios, sweep_members

    if sweep_base:
        names = tuple(dict.fromkeys([*names, *sweep_members(app.engine, sweep_base)]))
    if not names:
        raise click.UsageError("give scenario NAMES or --sweep BASE")
    comparison = compare_scenarios(app.engine, list(names))
    sensitivity = comparison["sensitivity"]
    if as_json:
        print_json(
            {
                "scenarios": comparison["scenarios"],
                "by_cause": comparison["by_cause"].reset_index(names="cause"),
                "by_trust": comparison["by_trust"].reset_index(names="trust"),
                "by_category": comparison["by_category"].reset_index(names="category"),
                "sensitivity": sensitivity and {"setting": sensitivity["setting"], "rows": sensitivity["table"]},
            }
        )
        return
    headline = comparison["headline"].astype(object)
    for figure in headline.index:
        if figure.endswith("_gbp"):
            headline.loc[figure] = [fmt.money(v) for v in headline.loc[figure]]
        elif figure in ("gap", "global_gap"):
            headline.loc[figure] = [fmt.percent(v) for v in headline.loc[figure]]
    print_table(headline.astype(str).reset_index(names="figure"), title="Scenarios")
    for key, label in (("by_cause", "cause"), ("by_trust", "trust"), ("by_category", "category")):
        table = comparison[key].reset_index(names=label)
        print_table(table, title=f"Net savings by {label}", money=tuple(names))
    if sensitivity:
        print_table(
            sensitivity["table"],
            title=f"Sensitivity: net savings against {sensitivity['setting']} (the only setting that differs)",
            money=("net_savings_gbp", "in_year_gbp", "full_year_gbp", "change_in_net_gbp"),
        )


@scenario_group.command("sweep")
@click.argument("base")
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    metavar="SETTING=V1,V2,...",
    help="A setting and its values (repeatable: the grid is every combination). Lists such as trusts are "
    "'+'-joined (trusts=RXA+RXB,RXA+RXB+RXC; 'all' for every trust); 'none' for no limit.",
)
@click.option(
    "--workers",
    type=int,
    help="Worker processes [the cores, at most one per scenario]; 1 runs them one after another.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on a Dask distributed cluster instead (e.g. tcp://10.0.0.5:8786); pip install 'procure[dask]'.",
)
@json_option
@pass_app
@handle_errors
def scenario_sweep_cmd(
    app: AppContext, base: str, vary: tuple[str, ...], workers: int | None, scheduler: str | None, as_json: bool
) -> None:
    """Run a grid of variations of scenario BASE in parallel; each is stored as an ordinary scenario.

    Each point of the grid is a scenario named BASE[SETTING=VALUE,...] (quote it in the
    shell), with a run like `scenario run` stores; compare them with
    `procure scenario compare --sweep BASE`, export them with `procure export`. Workers
    open the database themselves: with --scheduler, every Dask worker must reach it at
    the same URL (a shared PostgreSQL database, or a SQLite file on a shared disk).
    Exit codes: 1 a scenario failed or found no solution, 2 bad --vary, 3 unknown scenario or trust.

    \b
    Example:
      procure scenario sweep all-six --vary range_cap=1,2,3,4 --workers 2
      procure scenario sweep all-six --vary trusts=RXA+RXB,RXA+RXB+RXC,all --vary odep_floor=10A,7A
    """
    from procurement.scenarios import parse_vary, run_sweep

    parsed = parse_vary(vary)

    def finished(row: dict) -> None:
        if as_json:
            return
        figure = f"net {fmt.money(row.get('objective_gbp'))}" if row.get("objective_gbp") is not None else ""
        err.print(
            f"  done: {row['scenario']}  {row['status']}  {figure}  ({row.get('wall_seconds') or 0:.1f} s)",
            highlight=False,
            markup=False,
        )

    with working(f"Sweeping {base} ...", as_json):
        table = run_sweep(app.db_url, base, parsed, workers=workers, scheduler=scheduler, user=app.user,
                          progress=finished)  # fmt: skip
    attrs = dict(table.attrs)
    if as_json:
        print_json({"base": base, "wall_seconds": attrs["wall_seconds"], "backend": attrs["backend"],
                    "workers": attrs["workers"], "scenarios": table})  # fmt: skip
    else:
        shown = table.drop(columns=["input_hash", "build_seconds", "solve_seconds", "worker", "run_id"])
        shown["gap"] = [fmt.percent(v) for v in shown["gap"]]
        if (shown["status"] == "optimal").all():
            shown = shown.drop(columns=["message"])
        print_table(shown, title=f"Sweep of {base}", money=("objective_gbp", "in_year_gbp", "full_year_gbp"))
        on = f"{attrs['workers']} worker(s)" if attrs["workers"] else "the cluster's workers"
        out.print(
            f"{len(table)} scenario(s) in {attrs['wall_seconds']:.1f} s ({attrs['backend']}, {on}); "
            f"compare them: procure scenario compare --sweep {base}",
            highlight=False,
            markup=False,
        )
    if table["objective_gbp"].isna().any():
        sys.exit(1)


# --------------------------------------------------------------------------- finance workbook


@main.command("export")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path), required=True, help="The workbook to write (.xlsx)."
)
@json_option
@pass_app
@handle_errors
def export_cmd(app: AppContext, names: tuple[str, ...], out_file: Path, as_json: bool) -> None:
    """Write the finance workbook for scenarios' latest runs (the first is the headline).

    Summary, Trusts, Categories, Years, Range, Contracts, Assumptions, Solver and Data
    quality sheets; every total on Summary is a live formula over the detail sheets.

    Example: procure export all-trusts top-four --out savings-case.xlsx
    """
    from procurement.export.finance import write_finance_workbook

    summary = write_finance_workbook(app.engine, list(names), out_file)
    if as_json:
        print_json(summary)
        return
    head = summary["scenarios"][0]
    more = len(summary["scenarios"]) - 1
    others = f" (and {more} more scenario(s) side by side)" if more else ""
    out.print(
        f"wrote {summary['path']}: {head['scenario']} net {fmt.money(head['objective_gbp'])} over the horizon, "
        f"in-year {fmt.money(head['in_year_gbp'])}, full-year {fmt.money(head['full_year_gbp'])}{others}",
        highlight=False,
        markup=False,  # scenario names such as base[range_cap=1] are not markup
    )
    out.print(f"  the file holds {summary['cached_values']}", highlight=False, markup=False)
    for warning in summary["warnings"]:
        err.print(f"[yellow]Warning:[/] {escape(warning)}", highlight=False)


# --------------------------------------------------------------------------- shortlists


@main.group("shortlist")
def shortlist_group() -> None:
    """Clinician shortlists: a workbook per trust sent out, the surgeons' decisions read back.

    \b
    Example:
      procure shortlist export --trust RXA --scenario all-trusts --out rxa-shortlist.xlsx
      procure shortlist import rxa-shortlist-returned.xlsx
    """


@shortlist_group.command("export")
@click.option("--trust", required=True, help="Trust code, or REGIONAL for the regional clinical panel.")
@click.option("--scenario", help="Also show whether this scenario's latest run keeps each line.")
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Workbook to write."
)
@json_option
@pass_app
@handle_errors
def shortlist_export_cmd(app: AppContext, trust: str, scenario: str | None, out_file: Path, as_json: bool) -> None:
    """Write a trust's shortlist workbook (.xlsx) for its surgeons to decide on.

    Only the Decision (drop-down), Reason and Clinician name cells can be edited; the
    export is recorded so that the returned workbook can be checked cell by cell.

    Example: procure shortlist export --trust RXA --scenario all-trusts --out rxa-shortlist.xlsx
    """
    from procurement.export.shortlist import export_shortlist

    result = export_shortlist(app.engine, trust=trust, scenario=scenario, out=out_file, user=app.user)
    if as_json:
        print_json(result)
        return
    sheets = ", ".join(f"{name} {n}" for name, n in result["sheets"].items())
    out.print(
        f"wrote {result['file']}: shortlist #{result['export_id']} for {result['trust']}, "
        f"{result['lines']} lines ({sheets}); sha256 {result['sha256'][:16]}",
        markup=False,
        highlight=False,
    )


@shortlist_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--override",
    metavar="REASON",
    help="Take decisions on lines decided anew since the export anyway; REASON is recorded with them.",
)
@json_option
@pass_app
@handle_errors
def shortlist_import_cmd(app: AppContext, file: Path, override: str | None, as_json: bool) -> None:
    """Read a returned shortlist: its decisions are appended to the approval history.

    The whole file is refused (exit 2, nothing recorded) if a locked cell was changed,
    a row added or deleted, a decision is not approve/reject/conditional or has no
    clinician name; each problem names its sheet and cell or row. A decision on a line
    that received a newer decision after the export is not taken (a rejected row naming
    the newer decision) unless --override REASON; the other decisions are.

    Example: procure shortlist import rxa-shortlist-returned.xlsx
    """
    from procurement.export.shortlist import ShortlistRefused, import_shortlist

    try:
        report = import_shortlist(app.engine, file, user=app.user, override=override)
    except ShortlistRefused as exc:
        if not as_json:
            raise
        print_json({"file": exc.file, "refused": True, "problems": exc.problems})
        sys.exit(exc.exit_code)
    _show_report(
        report,
        as_json,
        lambda: (
            f"{report.file} -> shortlist #{report.export_id} ({report.trust}): {report.summary()} "
            f"(import #{report.import_id})"
        ),
    )


@main.group("db", invoke_without_command=True)
@json_option
@format_option
@click.pass_context
def db_group(ctx: click.Context, as_json: bool) -> None:
    """Upgrade the database schema in place and show its revision and row counts; `init` creates one.

    \b
    Example:
      procure --db sqlite:///region.db db init
      procure --db sqlite:///region.db db
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(db_cmd, as_json=as_json)


@db_group.command("init")
@json_option
@pass_app
@handle_errors
def db_init_cmd(app: AppContext, as_json: bool) -> None:
    """Create the database (or upgrade an existing one) at the latest schema revision.

    Example: procure --db sqlite:///region.db db init
    """
    from procurement.db import current_revision

    engine = app.engine
    payload = {"url": engine.url.render_as_string(hide_password=True), "revision": current_revision(engine)}
    if as_json:
        print_json(payload)
    else:
        out.print(f"{payload['url']} ready at revision {payload['revision']}", markup=False, highlight=False)


@pass_app
@handle_errors
def db_cmd(app: AppContext, as_json: bool) -> None:
    from procurement.db import current_revision, table_names
    from procurement.reference import frame  # noqa: F401

    engine = app.engine
    from sqlalchemy import text

    counts = {}
    with engine.connect() as connection:
        for name in table_names(engine):
            if name != "alembic_version":
                counts[name] = connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
    payload = {
        "url": engine.url.render_as_string(hide_password=True),
        "revision": current_revision(engine),
        "rows": counts,
    }
    if as_json:
        print_json(payload)
    else:
        out.print(f"{payload['url']} at revision {payload['revision']}", highlight=False)
        print_table(pd.DataFrame({"table": list(counts), "rows": list(counts.values())}))


# --------------------------------------------------------------------------- tracking


@main.command("track")
@click.argument("scenario")
@click.option("--as-of", "as_of", metavar="DATE", help="Track up to DATE (YYYY-MM-DD) [default: the last actuals].")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Also write the tracking workbook (.xlsx).")
@json_option
@pass_app
@handle_errors
def track_cmd(app: AppContext, scenario: str, as_of: str | None, out_path: Path | None, as_json: bool) -> None:
    """Track the award: realised against planned savings, compliance, off-contract spend, tiers.

    Actuals are usage imports dated on or after the agreement's start; the plan is the
    scenario's latest run.

    Example: procure track all-trusts --as-of 2027-12-31 --out track.xlsx
    """
    import datetime as dt

    from procurement import tracking

    try:
        when = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from exc
    result = tracking.track_scenario(app.engine, scenario, as_of=when)
    payload = tracking.to_json(result)
    if out_path is not None:
        from procurement.export.tracking import write_tracking_workbook

        payload["path"] = str(write_tracking_workbook(result, out_path)["path"])
    if as_json:
        print_json(payload)
        return
    out.print(payload["headline"], highlight=False)
    causes = pd.DataFrame({"cause": list(result["by_cause"]), "gbp": list(result["by_cause"].values())})
    print_table(causes, title="Shortfall by cause (adds up to planned - realised)", money=("gbp",))
    money = ("planned", "realised", "shortfall", *tracking.CAUSES)
    print_table(result["by_month"].drop(columns="month"), title="By month", money=money)
    print_table(result["by_trust"], title="By trust", money=money)
    print_table(result["compliance"], title="Compliance since each planned join", money=("spend",))
    off = result["off_contract"]
    print_table(off, title="Off-contract and off-range spend", money=("spend", "premium"), max_rows=10)
    print_table(result["tiers"].drop(columns="message"), title="Tiers", money=("lost_gbp",))
    for alert in result["alerts"]:
        out.print(f"! {alert}", highlight=False)
    if out_path is not None:
        out.print(f"Tracking workbook: {payload['path']}", highlight=False)


# ------------------------------------------- where to start: benchmark, opportunities, price to win


@main.command("benchmark")
@click.option(
    "--by",
    type=click.Choice(["line", "group", "sku"]),
    default="line",
    show_default=True,
    help="Compare prices per product line, per equivalence group, or per SKU (like for like).",
)
@click.option("--trust", help="Show one trust against its peers (the regional figures still use every trust).")
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Also write a workbook (.xlsx) with a chart.")
@click.option("--top", type=int, default=25, show_default=True, help="Products shown in the table (not in JSON).")
@json_option
@pass_app
@handle_errors
def benchmark_cmd(app: AppContext, by: str, trust: str | None, out_file: Path | None, top: int, as_json: bool) -> None:
    """What each trust pays against the region's best, median and worst, ranked by savings.

    Example: procure benchmark --by line --trust RXE --out benchmark.xlsx
    """
    from procurement.benchmarking import benchmark

    result = benchmark(app.engine, by=by, trust=trust)
    if out_file:
        from procurement.export.portfolio import write_benchmark_workbook

        result["workbook"] = str(write_benchmark_workbook(result, out_file))
    if as_json:
        print_json(result)
        return
    totals = result["totals"]
    key = {"line": "line", "group": "group", "sku": "sku"}[by]
    shown = result["products"][
        [key, "trusts", "units_per_year", "best", "best_trust", "median", "worst", "worst_trust",
         "saving_at_best_gbp", "saving_at_median_gbp"]
    ]  # fmt: skip
    who = f" ({trust} against its peers)" if trust else ""
    print_table(
        shown,
        title=f"Price benchmark by {by}{who}, ranked by the annual saving at the regional best",
        money=("best", "median", "worst", "saving_at_best_gbp", "saving_at_median_gbp"),
        max_rows=top,
    )
    out.print(
        f"{totals['products']} products, £{totals['spend_per_year_gbp']:,.0f} a year: "
        f"£{totals['saving_at_best_gbp']:,.0f} a year if every trust paid the regional best, "
        f"£{totals['saving_at_median_gbp']:,.0f} at the median",
        highlight=False,
    )
    if out_file:
        out.print(f"wrote {result['workbook']}", highlight=False)


@main.command("opportunities")
@click.option("--scenario", help="Use this scenario's rules (trusts, ODEP floor, approvals) [default: the defaults].")
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Also write a workbook (.xlsx) with a chart.")
@json_option
@pass_app
@handle_errors
def opportunities_cmd(app: AppContext, scenario: str | None, out_file: Path | None, as_json: bool) -> None:
    """Where to start: per group, savings potential against effort: quick wins, big gains, low priority.

    Example: procure opportunities --scenario all-trusts --out portfolio.xlsx
    """
    from procurement.benchmarking import opportunities

    result = opportunities(app.engine, scenario=scenario)
    if out_file:
        from procurement.export.portfolio import write_opportunities_workbook

        result["workbook"] = str(write_opportunities_workbook(result, out_file))
    if as_json:
        print_json(result)
        return
    shown = result["groups"][
        ["rank", "class", "group", "savings_gbp", "effort", "price_harmonisation_gbp", "volume_tiers_gbp",
         "standardisation_gbp", "trusts_changing", "new_instrument_sets", "contracts_locked", "odep_exceptions"]
    ]  # fmt: skip
    print_table(
        shown,
        title="Opportunity portfolio (annual savings potential, per-group bound)",
        money=("savings_gbp", "price_harmonisation_gbp", "volume_tiers_gbp", "standardisation_gbp"),
    )
    print_table(
        result["categories"][["category", "savings_gbp", "effort", "quick_wins", "big_gains", "low_priority"]],
        title="Per category",
        money=("savings_gbp",),
    )
    for row in result["groups"].head(3).itertuples():
        out.print(f"{row.rank}. {row.group} ({row._2}): {row.reason}", highlight=False)
    if out_file:
        out.print(f"wrote {result['workbook']}", highlight=False)


@scenario_group.command("price-to-win")
@click.argument("name")
@click.option("--line", "lines", multiple=True, help="Only this line (repeatable) [default: all outside the range].")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes (one line each at a time).")
@json_option
@pass_app
@handle_errors
def scenario_price_to_win_cmd(app: AppContext, name: str, lines: tuple[str, ...], workers: int, as_json: bool) -> None:
    """For each line outside the optimal range, the highest regional price at which it would be taken.

    Found by re-solving (warm-started bisection) to within £1 and 0.5%; check an answer
    with a what-if scenario: procure scenario define NAME --line-price LINE=PRICE.

    Example: procure scenario price-to-win all-trusts --line SUP-B:TRAUMA-SHS:GRYUM
    """
    from procurement.price_to_win import price_to_win

    with working(f"Re-solving {name} at trial prices ...", as_json):
        result = price_to_win(app.engine, name, lines=list(lines) or None, workers=workers)
    if as_json:
        print_json(result)
        return
    print_table(
        result["lines"],
        title=f"Price to win in {name} (optimal plan saves £{result['objective_gbp']:,.0f} over the horizon)",
        money=("current_price", "price_to_win"),
    )
    n, seconds = len(result["lines"]), result["wall_seconds"]
    out.print(f"{n} lines in {seconds:.0f} s on {result['workers']} workers", highlight=False)


if __name__ == "__main__":
    main()
