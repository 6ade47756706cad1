"""The clinician shortlist round trip: export, fill as a surgeon would, import, run again.

One demo region is built per module, and one shortlist exported from it (RXA, with the
all-trusts scenario); every test that writes works on a copy of that database.
"""

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import select, text
from sqlmodel import Session

from cli import main
from procurement.db import alembic_config, current_revision, make_engine, open_database, table_names, upgrade
from procurement.demo import run_demo
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.export.safe import is_neutralised
from procurement.export.shortlist import ROLE, ShortlistRefused, export_shortlist, import_shortlist
from procurement.models import (
    Approval,
    CatalogueItem,
    DataImport,
    ProductLine,
    RunAllocation,
    ShortlistExport,
    Trust,
)
from procurement.scenarios import build_problem, manage, runs

TRUST = "RXA"
SCENARIO = "all-trusts"
CATEGORY_SHEETS = ["Hip", "Knee", "Trauma"]
HEADER_ROW = 4
EDITABLE = ("Decision", "Reason", "Clinician name")
SURGEON = "Ms A. Okafor"
INJECTION = "=cmd|' /C calc'!A0"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shortlist-demo")
    run_demo(root, size="S", echo=None)
    return root / "procure.db"


@pytest.fixture(scope="module")
def exported(demo_db, tmp_path_factory) -> dict:
    """The demo database after exporting RXA's shortlist with the all-trusts scenario."""
    folder = tmp_path_factory.mktemp("shortlist-base")
    shutil.copy(demo_db, folder / "procure.db")
    engine = open_database(f"sqlite:///{folder / 'procure.db'}")
    result = export_shortlist(engine, trust=TRUST, scenario=SCENARIO, out=folder / "rxa.xlsx", user="lead")
    engine.dispose()
    return {"folder": folder, "workbook": folder / "rxa.xlsx", **result}


@pytest.fixture
def fresh(exported, tmp_path):
    """A writable copy of the exported state: (engine, workbook path) in tmp_path."""
    for name in ("procure.db", "rxa.xlsx"):
        shutil.copy(exported["folder"] / name, tmp_path / name)
    engine = open_database(f"sqlite:///{tmp_path / 'procure.db'}")
    yield engine, tmp_path / "rxa.xlsx"
    engine.dispose()


def columns(ws) -> dict[str, str]:
    """Header text -> column letter."""
    return {cell.value: cell.column_letter for cell in ws[HEADER_ROW] if cell.value}


def line_rows(ws) -> dict[str, int]:
    """Product line code -> sheet row."""
    ref = columns(ws)["Line reference"]
    return {ws[f"{ref}{r}"].value: r for r in range(HEADER_ROW + 1, ws.max_row + 1) if ws[f"{ref}{r}"].value}


def decide(ws, row: int, decision, reason=None, name=SURGEON) -> None:
    c = columns(ws)
    ws[f"{c['Decision']}{row}"] = decision
    ws[f"{c['Reason']}{row}"] = reason
    ws[f"{c['Clinician name']}{row}"] = name


def returned(path: Path, name: str, edit) -> Path:
    """The workbook as it comes back: opened, ``edit(wb)`` applied, saved under ``name``."""
    wb = load_workbook(path)
    edit(wb)
    target = path.with_name(name)
    wb.save(target)
    return target


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("approval", "dataimport", "shortlistexport")
        }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the workbook


def test_the_workbook_is_protected_and_only_decision_reason_and_name_cells_are_unlocked(exported):
    wb = load_workbook(exported["workbook"])
    assert wb.sheetnames == ["Read me", *CATEGORY_SHEETS, "_shortlist"]
    assert wb.security.lockStructure  # sheets cannot be added, deleted or unhidden
    n = exported["export_id"]
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
    for title in CATEGORY_SHEETS:
        ws = wb[title]
        assert ws["A1"].value.startswith(f"Shortlist #{n} · ")
        editable = {columns(ws)[h] for h in EDITABLE}
        rows = set(line_rows(ws).values())
        assert rows
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row + 1, max_col=ws.max_column + 1):
            for cell in row:
                unlocked = cell.row in rows and cell.column_letter in editable
                assert cell.protection.locked is not unlocked, (title, cell.coordinate)
        assert ws.freeze_panes == f"C{HEADER_ROW + 1}"
        assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
        assert all(ws.column_dimensions[c].width >= 10 for c in columns(ws).values())
    assert wb["Read me"]["A1"].value == f"Shortlist #{n}"
    hidden = wb["_shortlist"]
    assert hidden.sheet_state == "hidden" and hidden["B1"].value == n
    assert list(wb.defined_names["ShortlistExportId"].destinations) == [("_shortlist", "$B$1")]


def test_the_decision_drop_down_covers_every_decision_cell_and_nothing_else(exported):
    wb = load_workbook(exported["workbook"])
    for title in CATEGORY_SHEETS:
        ws = wb[title]
        (validation,) = ws.data_validations.dataValidation
        assert validation.type == "list"
        assert validation.formula1 == '"approve,reject,conditional"'
        assert validation.showErrorMessage and validation.errorStyle == "stop"
        decision = columns(ws)["Decision"]
        cells = {f"{decision}{r}" for r in line_rows(ws).values()}
        covered = {cell.coordinate for row in ws.iter_rows() for cell in row if cell.coordinate in validation.sqref}
        assert covered == cells


def test_the_sheets_show_every_line_with_bands_use_and_decisions_but_no_prices(exported, demo_db):
    wb = load_workbook(exported["workbook"])
    engine = open_database(f"sqlite:///{demo_db}")
    with Session(engine) as session:
        active = set(session.scalars(select(CatalogueItem.product_line_id).where(CatalogueItem.active.is_(True))))
        codes = set(session.scalars(select(ProductLine.code).where(ProductLine.id.in_(active))))
        used = session.execute(
            text(
                "SELECT DISTINCT p.code FROM usage u JOIN catalogueitem i ON i.id = u.item_id "
                "JOIN productline p ON p.id = i.product_line_id JOIN trust t ON t.id = u.trust_id WHERE t.code = :t"
            ),
            {"t": TRUST},
        ).scalars()
        used = set(used)
        kept_here = set(
            session.execute(
                select(ProductLine.code)
                .join(RunAllocation, RunAllocation.line_id == ProductLine.id)
                .join(Trust, Trust.id == RunAllocation.trust_id)
                .where(Trust.code == TRUST, RunAllocation.run_id == exported["run_id"], RunAllocation.units > 0)
            ).scalars()
        )
    engine.dispose()
    seen = {}
    for title in CATEGORY_SHEETS:
        ws = wb[title]
        c = columns(ws)
        assert list(c)[:4] == ["Supplier", "Brand", "ODEP rating", "Price band"]
        assert f"Scenario {SCENARIO}" in c
        for line, row in line_rows(ws).items():
            values = {h: ws[f"{letter}{row}"].value for h, letter in c.items()}
            seen[line] = values
            assert values["Price band"] in {"£", "££", "£££", "only line", "not priced"}
            assert values["Used here today"] == ("yes" if line in used else "no")
            assert values["Annual units here"] == 0 or line in used
            assert values["Decision in force"].split(" ")[0] in {"approve", "reject", "conditional", "none"}
        # No price is shown anywhere: the only numbers are units (whole) and dates.
        for row in ws.iter_rows(min_row=HEADER_ROW + 1):
            for cell in row:
                assert not isinstance(cell.value, float), cell.coordinate
    assert set(seen) == codes
    assert kept_here and {line for line, v in seen.items() if v[f"Scenario {SCENARIO}"] == "kept: used here"} == (
        kept_here
    )
    bands = {v["Price band"] for v in seen.values()}
    assert {"£", "££", "£££"} <= bands


def test_each_line_says_whether_choosing_it_needs_a_new_instrument_set_here(exported, demo_db):
    engine = open_database(f"sqlite:///{demo_db}")
    with Session(engine) as session:
        systems = dict(
            session.execute(
                text(
                    "SELECT p.code, s.code || ' ' || c.code FROM productline p JOIN supplier s ON s.id = p.supplier_id "
                    "JOIN equivalencegroup g ON g.id = p.group_id JOIN category c ON c.id = g.category_id"
                )
            ).all()
        )
        used = set(
            session.execute(
                text(
                    "SELECT DISTINCT p.code FROM usage u JOIN catalogueitem i ON i.id = u.item_id "
                    "JOIN productline p ON p.id = i.product_line_id JOIN trust t ON t.id = u.trust_id "
                    "WHERE t.code = :t"
                ),
                {"t": TRUST},
            ).scalars()
        )
    engine.dispose()
    held = {systems[line] for line in used}
    wb = load_workbook(exported["workbook"])
    answers = {}
    for title in CATEGORY_SHEETS:
        ws = wb[title]
        letter = columns(ws)["New instrument set here"]
        answers.update({line: ws[f"{letter}{row}"].value for line, row in line_rows(ws).items()})
    for line, answer in answers.items():
        system = systems[line]
        expected = f"no: {system} in use here" if system in held else f"yes: new {system} system"
        assert answer == expected, line
    assert {a.split(":")[0] for a in answers.values()} == {"yes", "no"}


def test_the_export_is_recorded_with_its_hash_and_a_snapshot_of_every_locked_cell(exported):
    engine = open_database(f"sqlite:///{exported['folder'] / 'procure.db'}")
    with Session(engine) as session:
        record = session.get(ShortlistExport, exported["export_id"])
        trust = session.get(Trust, record.trust_id)
        assert trust.code == TRUST
        assert record.scenario_id is not None and record.run_id == exported["run_id"]
        assert record.created_by == "lead" and record.created_at.tzinfo is not None
        snapshot = json.loads(record.snapshot)
        assert record.file_sha256 == sha256(exported["workbook"]) == exported["sha256"]
    engine.dispose()
    wb = load_workbook(exported["workbook"])
    sheets = {s["name"]: s for s in snapshot["sheets"]}
    assert list(sheets) == wb.sheetnames
    for name, spec in sheets.items():
        ws = wb[name]
        locked = {
            cell.coordinate
            for row in ws.iter_rows()
            for cell in row
            if cell.value is not None and cell.protection.locked
        }
        assert set(spec["cells"]) == locked
    hip = wb["Hip"]
    rows = line_rows(hip)
    assert {int(r): v["line"] for r, v in sheets["Hip"]["rows"].items()} == {r: line for line, r in rows.items()}
    brand = columns(hip)["Brand"]
    row = next(iter(rows.values()))
    assert sheets["Hip"]["cells"][f"{brand}{row}"] == hip[f"{brand}{row}"].value


def test_text_from_suppliers_is_neutralised_and_still_reads_back(fresh):
    engine, _ = fresh
    with Session(engine) as session:
        line = session.scalars(
            select(ProductLine)
            .join(CatalogueItem, CatalogueItem.product_line_id == ProductLine.id)
            .where(CatalogueItem.active.is_(True))
            .order_by(ProductLine.id)
        ).first()
        line.brand = INJECTION
        session.add(line)
        session.commit()
        code = line.code
    path = fresh[1].with_name("injected.xlsx")
    export_shortlist(engine, trust=TRUST, out=path)
    wb = load_workbook(path)
    found = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert is_neutralised(cell.value), (ws.title, cell.coordinate, cell.value)
                if cell.value == "'" + INJECTION:
                    found.append((ws.title, cell.row))
    assert len(found) == 1
    title, row = found[0]
    assert wb[title][f"{columns(wb[title])['Line reference']}{row}"].value == code
    # An untouched workbook comes back clean: nothing to decide, nothing refused.
    report = import_shortlist(engine, path)
    assert report.rows_read == 0 and report.counts == {"approve": 0, "reject": 0, "conditional": 0}


# --------------------------------------------------------------------------- the round trip


def test_a_filled_shortlist_is_recorded_as_approvals_and_a_second_import_is_a_duplicate(fresh):
    engine, path = fresh
    before = counts(engine)

    def fill(wb):
        hip = wb["Hip"]
        rows = list(line_rows(hip).values())
        decide(hip, rows[0], "reject", "dislocation concerns in our cohort")
        decide(hip, rows[1], "approve")
        decide(hip, rows[2], "Conditional", "revision cases only")
        knee = wb["Knee"]
        decide(knee, list(line_rows(knee).values())[0], "approve", None, "  Mr B. Shah ")
        # A name without a decision is not a decision.
        decide(knee, list(line_rows(knee).values())[1], None, None, "Mr B. Shah")

    filled = returned(path, "rxa-returned.xlsx", fill)
    started = dt.datetime.now(dt.UTC)
    report = import_shortlist(engine, filled, user="lead")
    assert report.summary() == "decisions recorded: 2 approve, 1 reject, 1 conditional"
    assert report.duplicate_of is None and report.trust == TRUST
    assert any("name but no decision" in note for note in report.notes)
    after = counts(engine)
    assert after["approval"] == before["approval"] + 4
    assert after["dataimport"] == before["dataimport"] + 1

    with Session(engine) as session:
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        record = session.get(DataImport, report.import_id)
        assert (record.kind, record.file_name, record.trust_id) == ("shortlist", "rxa-returned.xlsx", rxa.id)
        assert record.sha256 == sha256(filled) and record.imported_by == "lead"
        assert record.rows_read == record.rows_accepted == 4
        new = session.scalars(select(Approval).where(Approval.import_id == report.import_id)).all()
    assert sorted(a.decision for a in new) == ["approve", "approve", "conditional", "reject"]
    for approval in new:
        assert approval.trust_id == rxa.id
        assert approval.role == ROLE
        assert approval.source_sha256 == sha256(filled)
        assert approval.decided_at.tzinfo is not None and approval.decided_at >= started - dt.timedelta(seconds=1)
    by_decision = {a.decision: a for a in new}
    assert by_decision["reject"].clinician == SURGEON
    assert by_decision["reject"].comment == "dislocation concerns in our cohort"
    assert by_decision["conditional"].comment == "revision cases only"
    assert {a.clinician for a in new} == {SURGEON, "Mr B. Shah"}

    again = import_shortlist(engine, filled)
    assert again.duplicate_of == report.import_id and again.import_id is None
    assert counts(engine) == after


def test_the_regional_panel_shortlist_records_panel_decisions(fresh):
    engine, path = fresh
    regional = path.with_name("regional.xlsx")
    result = export_shortlist(engine, trust="regional", out=regional)
    assert result["trust"] == "REGIONAL"
    wb = load_workbook(regional)
    assert "Trusts using it" in columns(wb["Knee"])
    knee = wb["Knee"]
    line, row = next(iter(line_rows(knee).items()))
    decide(knee, row, "reject", "poor outcomes in the registry")
    filled = regional.with_name("regional-returned.xlsx")
    wb.save(filled)
    report = import_shortlist(engine, filled)
    assert report.trust == "REGIONAL" and report.counts["reject"] == 1
    with Session(engine) as session:
        (approval,) = session.scalars(select(Approval).where(Approval.import_id == report.import_id)).all()
        assert approval.trust_id is None
        assert session.get(ProductLine, approval.product_line_id).code == line
        record = session.get(ShortlistExport, result["export_id"])
        assert record.trust_id is None and record.scenario_id is None


# --------------------------------------------------------------------------- refusals


def _cell(wb, header: str, index: int = 2, sheet: str = "Hip") -> tuple[str, int, str]:
    ws = wb[sheet]
    row = list(line_rows(ws).values())[index]
    return ws, row, f"{columns(ws)[header]}{row}"


def edit_band(wb):
    ws, row, address = _cell(wb, "Price band")
    old = ws[address].value
    ws[address] = "£" if old != "£" else "££"
    return f"Hip!{address}: price band changed from {old!r} to {ws[address].value!r}"


def edit_brand(wb):
    ws, row, address = _cell(wb, "Brand")
    old = ws[address].value
    ws[address] = "Cheaper Brand"
    return f"Hip!{address}: brand changed from {old!r} to 'Cheaper Brand'"


def insert_row(wb):
    ws, row, _ = _cell(wb, "Brand")
    ws.insert_rows(row)
    c = columns(ws)
    ws[f"{c['Supplier']}{row}"] = "Acme Implants"
    ws[f"{c['Brand']}{row}"] = "Acme Stem"
    decide(ws, row, "approve")
    return f"Hip row {row}: row added"


def append_row(wb):
    ws = wb["Trauma"]
    row = ws.max_row + 1
    decide(ws, row, "approve", "we use it")
    return f"Trauma row {row}: row added"


def delete_row(wb):
    ws, row, address = _cell(wb, "Brand")
    line = ws[f"{columns(ws)['Line reference']}{row}"].value
    ws.delete_rows(row)
    return f"Hip row {row}: row deleted ({line})"


def unknown_decision(wb):
    ws, row, address = _cell(wb, "Decision")
    decide(ws, row, "maybe", "not sure")
    return f"Hip!{address}: decision 'maybe' is not one of approve, reject, conditional"


def missing_name(wb):
    ws, row, address = _cell(wb, "Decision")
    decide(ws, row, "reject", "too expensive", None)
    name = f"{columns(ws)['Clinician name']}{row}"
    return f"Hip!{name}: decision 'reject' in {address} has no clinician name"


def edit_title(wb):
    wb["Knee"]["A1"] = "My shortlist"
    return "Knee!A1: changed from"


def reason_without_decision(wb):
    ws, row, address = _cell(wb, "Decision", sheet="Knee")
    decide(ws, row, None, "a reason", SURGEON)
    return f"Knee!{address}: a reason is given but no decision"


def formula_reason(wb):
    ws, row, _ = _cell(wb, "Decision")
    decide(ws, row, "approve", '=HYPERLINK("http://x")')
    return f"Hip!{columns(ws)['Reason']}{row}: reason is a formula"


@pytest.mark.parametrize(
    "tamper",
    [
        edit_band,
        edit_brand,
        insert_row,
        append_row,
        delete_row,
        unknown_decision,
        missing_name,
        edit_title,
        reason_without_decision,
        formula_reason,
    ],
)
def test_a_tampered_or_incomplete_workbook_is_refused_naming_the_cell_and_nothing_is_written(fresh, tamper):
    engine, path = fresh
    expected = []

    def edit(wb):
        # A valid decision elsewhere: refusal is all or nothing.
        knee = wb["Knee"]
        decide(knee, list(line_rows(knee).values())[0], "approve")
        expected.append(tamper(wb))

    filled = returned(path, "tampered.xlsx", edit)
    before = counts(engine)
    with pytest.raises(ShortlistRefused) as refused:
        import_shortlist(engine, filled)
    assert any(problem.startswith(expected[0]) for problem in refused.value.problems), refused.value.problems
    assert expected[0] in str(refused.value)
    assert refused.value.exit_code == 2
    assert counts(engine) == before


def test_an_added_row_or_a_deleted_row_is_reported_as_such_not_as_changed_cells(fresh):
    engine, path = fresh
    for name, tamper in (("added.xlsx", insert_row), ("deleted.xlsx", delete_row)):
        expected = []
        filled = returned(path, name, lambda wb, t=tamper, e=expected: e.append(t(wb)))
        with pytest.raises(ShortlistRefused) as refused:
            import_shortlist(engine, filled)
        assert len(refused.value.problems) == 1, refused.value.problems
        assert refused.value.problems[0].startswith(expected[0])


def test_an_unknown_export_id_or_a_foreign_workbook_is_refused(fresh):
    engine, path = fresh
    before = counts(engine)

    def other_id(wb):
        wb["_shortlist"]["B1"] = 999

    with pytest.raises(UnknownReferenceError, match=r"unknown shortlist export #999"):
        import_shortlist(engine, returned(path, "other.xlsx", other_id))
    plain = path.with_name("plain.xlsx")
    Workbook().save(plain)
    with pytest.raises(InputFileError, match="not a shortlist workbook"):
        import_shortlist(engine, plain)
    junk = path.with_name("junk.xlsx")
    junk.write_bytes(b"not a zip file")
    with pytest.raises(InputFileError, match="not an Excel workbook"):
        import_shortlist(engine, junk)
    assert counts(engine) == before


def test_a_renamed_or_added_sheet_is_refused(fresh):
    engine, path = fresh

    def rename(wb):
        wb["Trauma"].title = "Fractures"
        wb.create_sheet("Notes")["A1"] = "my notes"

    with pytest.raises(ShortlistRefused) as refused:
        import_shortlist(engine, returned(path, "renamed.xlsx", rename))
    problems = refused.value.problems
    assert "sheet 'Trauma' is missing (deleted or renamed)" in problems
    assert "sheet 'Notes' was added; sheets must not be added" in problems


# --------------------------------------------------------------------------- the next run


def test_the_next_scenario_run_respects_a_surgeons_rejection_and_the_audit_trail_shows_it(fresh):
    engine, path = fresh
    with Session(engine) as session:
        run_id = runs.latest_run_id(session, SCENARIO)
        _, settings = manage.get_settings(session, SCENARIO)
        problem, _ = build_problem(session, settings)
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        allocated = session.execute(
            select(ProductLine.code, RunAllocation.units)
            .join(ProductLine, ProductLine.id == RunAllocation.line_id)
            .where(RunAllocation.run_id == run_id, RunAllocation.trust_id == rxa.id, RunAllocation.units > 0)
        ).all()
    # A line the run keeps for RXA in a group where RXA has another usable line, and on
    # which RXA has no decision dated after today (that one would stay in force: see
    # test_a_decision_dated_after_today_is_reported_as_still_in_force).
    with Session(engine) as session:
        future = set(
            session.scalars(
                select(ProductLine.code)
                .join(Approval, Approval.product_line_id == ProductLine.id)
                .where(Approval.trust_id == rxa.id, Approval.decided_at > dt.datetime.now(dt.UTC))
            )
        )
    allocated = [(line, units) for line, units in allocated if line not in future]
    usable = problem.candidates[
        (problem.candidates["trust"] == TRUST) & problem.candidates["approved"] & problem.candidates["odep_ok"]
    ].merge(problem.lines[["line", "group"]], on="line")
    per_group = usable.groupby("group")["line"].nunique()
    group_of = usable.set_index("line")["group"]
    target = next(line for line, _ in sorted(allocated) if per_group[group_of[line]] >= 2)

    def reject(wb):
        for title in CATEGORY_SHEETS:
            rows = line_rows(wb[title])
            if target in rows:
                decide(wb[title], rows[target], "reject", "dislocation concerns in our cohort", SURGEON)
                return
        raise AssertionError(f"{target} not in the workbook")

    filled = returned(path, "rxa-decided.xlsx", reject)
    report = import_shortlist(engine, filled, user="lead")
    assert report.counts["reject"] == 1

    summary = runs.run_scenario(engine, SCENARIO, quality=False)
    assert summary["objective_gbp"] is not None and summary["run_id"] != run_id
    with Session(engine) as session:
        line = session.scalars(select(ProductLine).where(ProductLine.code == target)).one()
        units = session.scalars(
            select(RunAllocation.units).where(
                RunAllocation.run_id == summary["run_id"],
                RunAllocation.trust_id == rxa.id,
                RunAllocation.line_id == line.id,
            )
        ).all()
        assert sum(units) == 0
        # The audit trail: who, when, from which file.
        latest = session.scalars(
            select(Approval)
            .where(Approval.trust_id == rxa.id, Approval.product_line_id == line.id)
            .order_by(Approval.decided_at.desc(), Approval.id.desc())
        ).first()
        assert (latest.decision, latest.clinician, latest.comment) == (
            "reject",
            SURGEON,
            "dislocation concerns in our cohort",
        )
        assert latest.source_sha256 == sha256(filled)
        assert abs(latest.decided_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
        source = session.get(DataImport, latest.import_id)
        assert (source.kind, source.file_name, source.imported_by) == ("shortlist", "rxa-decided.xlsx", "lead")


def test_a_decision_dated_after_today_is_reported_as_still_in_force(fresh):
    engine, path = fresh
    wb = load_workbook(path)
    line, row = next(iter(line_rows(wb["Trauma"]).items()))
    with Session(engine) as session:
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        line_id = session.scalars(select(ProductLine.id).where(ProductLine.code == line)).one()
        session.add(
            Approval(
                trust_id=rxa.id,
                product_line_id=line_id,
                decision="approve",
                clinician="Dr Later",
                decided_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
            )
        )
        session.commit()
    decide(wb["Trauma"], row, "reject", "not for us")
    filled = path.with_name("later.xlsx")
    wb.save(filled)
    # Recorded after the export, the newer decision holds the row back unless overridden.
    report = import_shortlist(engine, filled, override="the panel met again")
    assert report.counts["reject"] == 1
    assert any(note.startswith("1 decision(s) stay overridden") and line in note for note in report.notes)


def test_the_decision_in_force_is_the_one_the_engine_uses_when_one_was_dated_ahead(fresh, tmp_path):
    # A decision dated in the future counts from when it was recorded (approvals.effective_decided_at):
    # a later-recorded decision outranks it for the optimiser and ``procure approvals``, and the
    # workbook's "Decision in force" must say the same, not the one with the latest date.
    from procurement.approvals import decisions_in_force

    engine, path = fresh
    line = next(iter(line_rows(load_workbook(path)["Knee"])))
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        line_id = session.scalars(select(ProductLine.id).where(ProductLine.code == line)).one()
        for decision, clinician, decided, recorded in (
            ("approve", "Dr Ahead", now + dt.timedelta(days=30), now - dt.timedelta(hours=2)),
            ("reject", "Dr Now", now - dt.timedelta(hours=1), now - dt.timedelta(hours=1)),
        ):
            session.add(
                Approval(
                    trust_id=rxa.id,
                    product_line_id=line_id,
                    decision=decision,
                    clinician=clinician,
                    decided_at=decided,
                    recorded_at=recorded,
                )
            )
        session.commit()
    engine_says = decisions_in_force(engine, trust=TRUST).set_index("product_line").loc[line]
    assert (engine_says["decision"], engine_says["clinician"]) == ("reject", "Dr Now")
    export_shortlist(engine, trust=TRUST, scenario=SCENARIO, out=tmp_path / "again.xlsx", user="lead")
    ws = load_workbook(tmp_path / "again.xlsx")["Knee"]
    c, row = columns(ws), line_rows(ws)[line]
    assert ws[f"{c['Decision in force']}{row}"].value == f"reject ({TRUST})"


# --------------------------------------------------------------------------- the command line


def test_the_cli_exports_imports_and_refuses_with_exit_codes_and_messages(fresh):
    engine, path = fresh
    folder = path.parent
    url = f"sqlite:///{folder / 'procure.db'}"
    runner = CliRunner()

    def procure(*args, expect=0):
        result = runner.invoke(main, ["--db", url, "--user", "lead", *map(str, args)])
        assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    out = folder / "sent" / "rxb.xlsx"
    result = procure("shortlist", "export", "--trust", "RXB", "--scenario", "top-four", "--out", out)
    assert result.stdout.startswith(f"wrote {out}: shortlist #")
    assert re.search(r"for RXB, \d+ lines \(Hip \d+, Knee \d+, Trauma \d+\)", result.stdout), result.stdout
    assert out.exists()

    wb = load_workbook(out)
    hip = wb["Hip"]
    rows = list(line_rows(hip).values())
    decide(hip, rows[0], "approve")
    decide(hip, rows[1], "reject", "not in our set")
    back = folder / "rxb-back.xlsx"
    wb.save(back)
    result = procure("shortlist", "import", back)
    assert "decisions recorded: 1 approve, 1 reject, 0 conditional" in result.stdout
    assert procure("shortlist", "import", back).stdout.startswith("rxb-back.xlsx: identical to import #")

    band = columns(hip)["Price band"]
    hip[f"{band}{rows[3]}"] = "[/bold]£"  # text that rich would take for markup
    tampered = folder / "rxb-tampered.xlsx"
    wb.save(tampered)
    before = counts(engine)
    result = procure("shortlist", "import", tampered, expect=2)
    assert f"Hip!{band}{rows[3]}: price band changed from" in result.output
    assert "[/bold]£" in result.output and "nothing recorded" in result.output
    result = procure("shortlist", "import", tampered, "--json", expect=2)
    payload = json.loads(result.stdout)
    assert payload["refused"] and payload["problems"][0].startswith(f"Hip!{band}{rows[3]}: price band")
    assert counts(engine) == before

    decide(hip, rows[3], "conditional", "one surgeon only")
    hip[f"{band}{rows[3]}"] = load_workbook(out)["Hip"][f"{band}{rows[3]}"].value
    fixed = folder / "rxb-fixed.xlsx"
    wb.save(fixed)
    payload = json.loads(procure("shortlist", "import", fixed, "--json").stdout)
    assert payload["counts"] == {"approve": 1, "reject": 1, "conditional": 1}
    assert payload["kind"] == "shortlist" and payload["sha256"] == sha256(fixed)
    assert len(payload["decisions"]) == 3 and payload["trust"] == "RXB"

    assert "unknown trust 'XYZ'" in procure("shortlist", "export", "--trust", "XYZ", "--out", out, expect=3).output
    result = procure("shortlist", "export", "--trust", "RXB", "--scenario", "nope", "--out", out, expect=3)
    assert "no scenario named 'nope'" in result.output
    result = procure("shortlist", "export", "--trust", "RXB", "--out", folder / "rxb.csv", expect=1)
    assert "give a file name ending in .xlsx" in result.output
    assert "no such file" in procure("shortlist", "import", folder / "missing.xlsx", expect=2).output


# --------------------------------------------------------------------------- the migration


def test_a_database_at_0003_upgrades_to_0004_in_place_keeping_its_rows(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    assert "shortlistexport" not in table_names(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO trust (code, name, region) VALUES ('RXA', 'Alpha', 'NW')"))
        connection.execute(
            text("INSERT INTO scenario (name, parameters, created_at, created_by) VALUES ('s', '{}', :t, 'x')"),
            {"t": dt.datetime(2026, 1, 1)},
        )
    upgrade(engine, "0004")
    assert current_revision(engine) == "0004"
    assert "shortlistexport" in table_names(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT code, name, region FROM trust")).all() == [("RXA", "Alpha", "NW")]
        assert connection.execute(text("SELECT name FROM scenario")).scalars().all() == ["s"]
        assert connection.execute(text("SELECT COUNT(*) FROM shortlistexport")).scalar_one() == 0
    with Session(engine) as session:
        session.add(ShortlistExport(trust_id=1, scenario_id=1, file_sha256="ab", snapshot="{}"))
        session.commit()
        assert session.get(ShortlistExport, 1).created_at.tzinfo is not None
    from alembic import command

    command.downgrade(alembic_config(engine), "0003")
    assert "shortlistexport" not in table_names(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM trust")).scalar_one() == 1
    engine.dispose()


def test_a_stale_shortlist_row_is_refused_naming_the_newer_decision_and_the_rest_taken(fresh, snapshot):
    from procurement.approvals import decisions_in_force

    engine, path = fresh
    wb = load_workbook(path)
    (stale_line, stale_row), (ok_line, ok_row) = list(line_rows(wb["Trauma"]).items())[:2]
    with Session(engine) as session:  # decided after the export, from elsewhere
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        line_id = session.scalars(select(ProductLine.id).where(ProductLine.code == stale_line)).one()
        session.add(
            Approval(
                trust_id=rxa.id,
                product_line_id=line_id,
                decision="approve",
                clinician="Dr Newer",
                decided_at=dt.datetime.now(dt.UTC),
            )
        )
        session.commit()
    decide(wb["Trauma"], stale_row, "reject", "old view")
    decide(wb["Trauma"], ok_row, "reject", "not for us")
    filled = path.with_name("late.xlsx")
    wb.save(filled)
    report = import_shortlist(engine, filled)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 1, 1)
    [reason] = report.rejects["reason"]
    assert stale_line in reason and "approve by Dr Newer" in reason and "--override" in reason
    in_force = decisions_in_force(engine, trust=TRUST).set_index("product_line")
    assert in_force.loc[stale_line, "decision"] == "approve"
    assert in_force.loc[ok_line, ("decision", "source_file")].tolist() == ["reject", "late.xlsx"]


def test_override_takes_a_stale_row_with_its_reason_and_approvals_lists_it(fresh):
    engine, path = fresh
    wb = load_workbook(path)
    line, row = next(iter(line_rows(wb["Trauma"]).items()))
    with Session(engine) as session:
        rxa = session.scalars(select(Trust).where(Trust.code == TRUST)).one()
        line_id = session.scalars(select(ProductLine.id).where(ProductLine.code == line)).one()
        session.add(Approval(trust_id=rxa.id, product_line_id=line_id, decision="approve", clinician="Dr Newer",
                             decided_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        session.commit()
    decide(wb["Trauma"], row, "reject", "old view")
    filled = path.with_name("late.xlsx")
    wb.save(filled)
    url = f"sqlite:///{path.parent / 'procure.db'}"
    result = CliRunner().invoke(main, ["--db", url, "shortlist", "import", str(filled), "--override", "panel agreed"])
    assert result.exit_code == 0, result.output
    listed = json.loads(CliRunner().invoke(main, ["--db", url, "approvals", "--trust", TRUST, "--json"]).output)
    [mine] = [r for r in listed if r["product_line"] == line]
    assert (mine["decision"], mine["override_reason"], mine["source_file"]) == ("reject", "panel agreed", "late.xlsx")
