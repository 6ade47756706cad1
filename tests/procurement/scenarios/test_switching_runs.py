"""Switching costs end to end on the demo region: file -> problem -> run -> JSON and stored results."""

import csv
import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.scenarios import ScenarioSettings, build_problem, manage, runs
from procurement.scenarios.switching import costs_in_force

START = "2027-04-01"


@pytest.fixture
def demo(demo_region_db, tmp_path):
    """A writable copy of the demo region (its switching-costs file imported) and its files folder."""
    shutil.copy(demo_region_db, tmp_path / "procure.db")
    engine = open_database(f"sqlite:///{tmp_path / 'procure.db'}")
    yield engine, demo_region_db.parent / "files"
    engine.dispose()


def procure(engine, *args):
    result = CliRunner().invoke(main, ["--db", str(engine.url), *args])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result


def build(engine, **settings):
    with Session(engine) as session:
        return build_problem(session, ScenarioSettings(start_date=START, **settings))


def test_all_is_expanded_a_trust_row_wins_and_the_default_applies_only_where_no_row_does(demo):
    engine, _ = demo
    problem, context = build(engine)
    with Session(engine) as session:
        in_force = costs_in_force(session)
    trusts = set(problem.trusts["trust"])
    sw = problem.switching
    # Every ALL system row is there once per trust, unless that trust has its own row for the key.
    systems = in_force[in_force["trust"].isna() & in_force["line"].isna()]
    own = in_force[in_force["trust"].notna()]
    for row in systems.itertuples():
        for trust in trusts:
            got = sw[
                (sw["trust"] == trust)
                & (sw["supplier"] == row.supplier)
                & (sw["category"] == row.category)
                & sw["line"].isna()
                & (sw["kind"] == row.kind)
            ]["cost"].tolist()
            mine = own[
                (own["trust"] == trust)
                & (own["supplier"] == row.supplier)
                & (own["category"] == row.category)
                & (own["kind"] == row.kind)
            ]["cost"].tolist()
            assert got in ([], mine or [row.cost])  # [] only when the system has no line in the problem
    assert len(own) and (sw.merge(own, on=["trust", "supplier", "category", "kind"])["cost_x"] > 0).all()
    # The demo covers every supplier's system: no new line falls back to the scenario default.
    assert (problem.candidates["switch_cost"] == 0).all()


def test_without_a_switching_costs_file_the_default_per_new_line_applies_as_before(demo):
    engine, _ = demo
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM switchingcost"))
    problem, _ = build(engine)
    assert problem.switching.empty
    merged = problem.candidates.merge(problem.current[["trust", "line"]].assign(used=True), how="left")
    assert (merged.loc[merged["used"].isna(), "switch_cost"] == 15_000).all()
    assert (merged.loc[merged["used"].notna(), "switch_cost"] == 0).all()


def test_a_system_row_for_one_trust_stops_the_default_for_that_systems_lines_only(demo, files):
    engine, _ = demo
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM switchingcost"))
    problem, context = build(engine)
    pairs = context["pairs"].merge(context["lines"][["line", "supplier"]], on="line")
    new = pairs[~pairs["in_use"]].iloc[0]
    path = files.csv(
        "one.csv",
        [("trust", "supplier", "category", "cost_gbp"), (new["trust"], new["supplier"], new["category"], "20000")],
    )
    procure(engine, "import", "switching-costs", str(path))
    problem, context = build(engine)
    cost = context["pairs"].merge(context["lines"][["line", "supplier"]], on="line")
    same_system = (
        (cost["trust"] == new["trust"]) & (cost["supplier"] == new["supplier"]) & (cost["category"] == new["category"])
    )
    assert (cost.loc[same_system, "switch_cost"] == 0).all()
    assert (cost.loc[~same_system & ~cost["in_use"], "switch_cost"] == 15_000).all()
    assert problem.switching[["trust", "supplier", "category", "cost"]].values.tolist() == [
        [new["trust"], new["supplier"], new["category"], 20000.0]
    ]


def test_run_json_lists_every_switching_cost_and_they_add_up_to_the_cause(demo):
    engine, _ = demo
    manage.define_scenario(engine, "all-trusts", ScenarioSettings(start_date=START))
    payload = json.loads(procure(engine, "scenario", "run", "all-trusts", "--json").stdout)
    switching = payload["switching"]
    assert switching and {tuple(sorted(r)) for r in switching} == {
        ("category", "cost_gbp", "kind", "line", "supplier", "trust")
    }
    assert any(r["line"] is None for r in switching) and all(r["cost_gbp"] > 0 for r in switching)
    assert sum(r["cost_gbp"] for r in switching) == pytest.approx(-payload["savings_by_cause"]["switching_costs"])
    # Per (trust, category) too, against the stored savings by cause.
    with Session(engine) as session:
        results = runs.run_results(session, payload["run_id"])
    cause = results["savings"].query("cause == 'switching_costs'").groupby(["trust", "category"])["amount"].sum()
    paid = pd.DataFrame(switching).groupby(["trust", "category"])["cost_gbp"].sum()
    assert paid.to_dict() == pytest.approx((-cause[cause != 0]).to_dict())
    shown = json.loads(procure(engine, "scenario", "show", "all-trusts", "--json").stdout)
    assert shown["switching"] == switching
    table = procure(engine, "scenario", "show", "all-trusts").stdout
    assert "Switching costs by trust" in table and "Switching costs by system" in table


def test_raising_a_trusts_cost_of_a_new_system_avoids_it_there_or_pays_exactly_that(demo, tmp_path):
    engine, folder = demo
    manage.define_scenario(engine, "all-trusts", ScenarioSettings(start_date=START))
    first = runs.run_scenario(engine, "all-trusts")
    paid = first["switching"]
    adopted = paid[paid["line"].isna() & (paid["kind"] == "instruments")].iloc[0]
    trust, supplier, category = adopted["trust"], adopted["supplier"], adopted["category"]
    raised = adopted["cost_gbp"] + 150_000.0

    with (folder / "switching-costs.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = [
        r
        for r in rows
        if not (r["trust"] == trust and r["supplier"] == supplier and r["category"] == category)
        or r["kind"] != "instruments"
    ]
    rows.append(rows[0] | {"trust": trust, "supplier": supplier, "brand": "", "group": "", "category": category,
                           "cost_gbp": f"{raised:.0f}", "kind": "instruments", "note": "raised"})  # fmt: skip
    newer = tmp_path / "switching-costs-2.csv"
    with newer.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    procure(engine, "import", "switching-costs", str(newer))

    second = runs.run_scenario(engine, "all-trusts")
    assert second["status"] == "optimal"
    with Session(engine) as session:
        lines = runs.run_results(session, second["run_id"])["lines"]
        used = pd.read_sql(
            text(
                "SELECT p.code AS line FROM runallocation a JOIN trust t ON t.id = a.trust_id "
                "JOIN productline p ON p.id = a.line_id WHERE a.run_id = :r AND t.code = :t AND a.units > 1e-9"
            ),
            session.connection(),
            params={"r": second["run_id"], "t": trust},
        )
    on_system = lines[(lines["supplier"] == supplier) & (lines["category"] == category)]["line"]
    uses_system = used["line"].isin(set(on_system)).any()
    now = second["switching"]
    instruments = now[
        (now["trust"] == trust)
        & (now["supplier"] == supplier)
        & (now["category"] == category)
        & now["line"].isna()
        & (now["kind"] == "instruments")
    ]["cost_gbp"].tolist()
    if uses_system:
        assert instruments == [pytest.approx(raised)]
    else:
        assert instruments == []
    assert second["objective_gbp"] <= first["objective_gbp"] + 1e-6  # raising a cost never raises savings
