"""Scenarios end to end on the demo region: problem building, runs, stored results, re-checks.

The solution is re-checked independently from the stored result tables (not from the
solver's own frames): demand met, approvals and ODEP respected, range caps, savings
that add up to the objective, join dates inside the horizon.
"""

import datetime as dt
import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.demo import run_demo
from procurement.models import Approval, ProductLine, Trust
from procurement.reference import frame
from procurement.scenarios import ScenarioSettings, build_problem, manage, runs


@pytest.fixture(scope="module")
def region_db(tmp_path_factory):
    """The demo region, imported but not solved (built once for this module)."""
    root = tmp_path_factory.mktemp("region")
    run_demo(root, size="S", echo=None, solve=False)
    return root / "procure.db"


@pytest.fixture
def engine(region_db, tmp_path):
    copy = tmp_path / "procure.db"
    shutil.copy(region_db, copy)
    return open_database(f"sqlite:///{copy}")


def test_problem_built_from_the_database_matches_usage(engine):
    with Session(engine) as session:
        problem, context = build_problem(session, ScenarioSettings())
    usage = context["usage"]
    assert sorted(problem.trusts["trust"]) == sorted(usage["trust"].unique())
    assert len(problem.trusts) == 6
    demand = problem.demand.set_index(["trust", "group"])["units"]
    expected = usage.groupby(["trust", "group"])["units_per_year"].sum()
    assert demand.to_dict() == pytest.approx(expected.to_dict())
    # Every line a trust uses today is a candidate for it.
    pairs = set(zip(problem.candidates["trust"], problem.candidates["line"], strict=True))
    assert set(zip(problem.current["trust"], problem.current["line"], strict=True)) <= pairs
    # Lines in use cost nothing; the demo's switching-costs file covers every supplier's
    # system, so no new line falls back to the scenario's 15,000 (see test_switching_runs.py).
    merged = problem.candidates.merge(problem.current[["trust", "line"]].assign(used=True), how="left")
    assert (merged.loc[merged["used"].notna(), "switch_cost"] == 0).all()
    assert len(problem.switching) and (problem.candidates["switch_cost"] == 0).all()


def test_a_trust_rejection_overrides_the_regional_panel_and_the_latest_decision_wins(engine):
    with Session(engine) as session:
        line = session.scalars(select(ProductLine).where(ProductLine.code.like("%HIP-STEM-CEM%"))).first()
        rxa = session.scalars(select(Trust).where(Trust.code == "RXA")).one()
        now = dt.datetime.now(dt.UTC)
        session.add(
            Approval(
                trust_id=None,
                product_line_id=line.id,
                decision="approve",
                clinician="Panel",
                decided_at=now - dt.timedelta(days=2),
            )
        )
        session.add(
            Approval(
                trust_id=rxa.id,
                product_line_id=line.id,
                decision="approve",
                clinician="Dr A",
                decided_at=now - dt.timedelta(days=1),
            )
        )
        session.add(
            Approval(
                trust_id=rxa.id,
                product_line_id=line.id,
                decision="reject",
                clinician="Dr A",
                decided_at=now,
                comment="dislocation concerns in our cohort",
            )
        )
        session.commit()
        problem, _ = build_problem(session, ScenarioSettings())
        code = line.code
    cand = problem.candidates.set_index(["trust", "line"])
    assert not cand.loc[("RXA", code), "approved"]
    assert cand.loc[("RXB", code), "approved"]


def test_odep_floor_applies_to_hips_and_knees_only(engine):
    with Session(engine) as session:
        strict, context = build_problem(session, ScenarioSettings(odep_floor="15A"))
        loose, _ = build_problem(session, ScenarioSettings(odep_floor=None))
    pairs = context["pairs"]
    trauma = set(pairs.loc[pairs["category"] == "trauma", "line"])
    cand = strict.candidates
    assert cand.loc[cand["line"].isin(trauma), "odep_ok"].all()
    assert not cand.loc[~cand["line"].isin(trauma), "odep_ok"].all()
    assert loose.candidates["odep_ok"].all()


@pytest.fixture
def solved(engine):
    manage.define_scenario(engine, "base", ScenarioSettings(start_date="2027-04-01"))
    summary = runs.run_scenario(engine, "base")
    return engine, summary


def _results(engine, run_id):
    with Session(engine) as session:

        def q(sql):
            return frame(session, text(sql).bindparams(run=run_id))

        return {
            "allocation": q("""SELECT t.code AS trust, p.code AS line, g.code AS grp, a.units, a.annual_cost
                               FROM runallocation a JOIN trust t ON t.id=a.trust_id
                               JOIN productline p ON p.id=a.line_id JOIN equivalencegroup g ON g.id=p.group_id
                               WHERE a.run_id=:run"""),
            "savings": q("SELECT cause, amount FROM runsaving WHERE run_id=:run"),
            "years": q("SELECT financial_year, amount FROM runsavingyear WHERE run_id=:run"),
            "joins": q("SELECT joins, join_date, join_month FROM runjoin WHERE run_id=:run"),
            "lines": q("""SELECT p.code AS line, g.code AS grp, r.kept FROM runline r
                          JOIN productline p ON p.id=r.line_id JOIN equivalencegroup g ON g.id=p.group_id
                          WHERE r.run_id=:run"""),
        }


def test_a_run_is_stored_and_every_rule_holds_in_the_stored_tables(solved):
    engine, summary = solved
    assert summary["status"] == "optimal"
    assert summary["gap"] <= 1e-4
    # The LP relaxation bounds the MILP from above, the greedy rule of thumb from below.
    assert summary["greedy_gbp"] <= summary["objective_gbp"] + 0.01 <= summary["lp_bound_gbp"] + 0.02
    stored = _results(engine, summary["run_id"])
    with Session(engine) as session:
        problem, _ = build_problem(session, ScenarioSettings(start_date="2027-04-01"))
    alloc = stored["allocation"]
    # Every unit of demand is met.
    met = alloc.groupby(["trust", "grp"])["units"].sum()
    demand = problem.demand.set_index(["trust", "group"])["units"]
    assert met.to_dict() == pytest.approx(demand.to_dict(), rel=1e-6)
    # Only approved lines meeting the ODEP floor are used.
    cand = problem.candidates.set_index(["trust", "line"])
    used = cand.loc[list(zip(alloc["trust"], alloc["line"], strict=True))]
    assert used["approved"].all() and used["odep_ok"].all()
    # Regional range cap (3) and per-trust cap (2) per group.
    kept = stored["lines"][stored["lines"]["kept"].astype(bool)]
    assert kept.groupby("grp").size().max() <= 3
    assert alloc[alloc["units"] > 1e-6].groupby(["trust", "grp"])["line"].nunique().max() <= 2
    assert set(alloc.loc[alloc["units"] > 1e-6, "line"]) <= set(kept["line"])
    # Savings by cause and by financial year both add up to the objective (to the penny).
    assert stored["savings"]["amount"].sum() == pytest.approx(summary["objective_gbp"], abs=0.01)
    assert stored["years"]["amount"].sum() == pytest.approx(summary["objective_gbp"], abs=0.01)
    # Everybody joins (participation "all") inside the 36-month horizon: co-terminous by 2030-04-01.
    joins = stored["joins"]
    assert joins["joins"].astype(bool).all()
    assert (pd.to_datetime(joins["join_date"]) < pd.Timestamp("2030-04-01")).all()
    assert set(stored["years"]["financial_year"]) <= {"2027/28", "2028/29", "2029/30"}


def test_the_input_hash_identifies_the_data_solved(solved):
    engine, first = solved
    again = runs.run_scenario(engine, "base")
    assert again["input_hash"] == first["input_hash"] and again["run_id"] != first["run_id"]
    manage.define_scenario(engine, "base", ScenarioSettings(start_date="2027-04-01", range_cap=2), replace=True)
    changed = runs.run_scenario(engine, "base")
    assert changed["input_hash"] != first["input_hash"]
    assert changed["objective_gbp"] <= first["objective_gbp"] + 0.01  # a tighter cap never saves more


def test_an_infeasible_scenario_is_explained_in_words_and_stores_no_results(engine):
    manage.define_scenario(engine, "impossible", ScenarioSettings(odep_floor="15A*"))
    summary = runs.run_scenario(engine, "impossible")
    assert summary["status"] == "infeasible"
    assert summary["objective_gbp"] is None
    assert "ODEP" in summary["message"] and " at trust RX" in summary["message"]
    assert _results(engine, summary["run_id"])["allocation"].empty


def test_cli_scenario_commands(engine, tmp_path):
    url = str(engine.url)
    cli = CliRunner()

    def procure(*args):
        result = cli.invoke(main, ["--db", url, *args])
        assert "Traceback" not in result.output
        return result

    scenarios = tmp_path / "s.toml"
    scenarios.write_text(
        '[scenarios.all]\nstart_date = "2027-04-01"\n\n'
        '[scenarios.two]\ntrusts = ["RXA", "RXB"]\nstart_date = "2027-04-01"\n'
    )
    assert procure("scenario", "define", "--file", str(scenarios)).exit_code == 0
    assert procure("scenario", "define", "tight", "--range-cap", "1", "--trusts", "RXA,RXB").exit_code == 0
    ran = procure("scenario", "run", "all", "two", "tight", "--json")
    assert ran.exit_code == 0, ran.output
    payload = json.loads(ran.stdout)
    assert [p["scenario"] for p in payload] == ["all", "two", "tight"]
    assert all(p["status"] == "optimal" for p in payload)
    shown = json.loads(procure("scenario", "show", "two", "--json").stdout)
    assert set(shown["savings_by_trust"]) == {"RXA", "RXB"}
    compared = json.loads(procure("scenario", "compare", "all", "two", "tight", "--json").stdout)
    assert [s["scenario"] for s in compared["scenarios"]] == ["all", "two", "tight"]
    assert {"cause", "all", "two", "tight"} <= set(compared["by_cause"][0])
    table = procure("scenario", "compare", "all", "two")
    assert table.exit_code == 0 and "objective_gbp" in table.stdout and "£" in table.stdout
    listed = json.loads(procure("scenario", "list", "--json").stdout)
    assert {r["name"] for r in listed} == {"all", "two", "tight"}
    missing = procure("scenario", "show", "nope")
    assert missing.exit_code == 3 and "no scenario named 'nope'" in missing.output
    procure("scenario", "define", "bad", "--odep-floor", "15A*")
    failed = procure("scenario", "run", "bad")
    assert failed.exit_code == 1 and "infeasible" in failed.output


def test_explain_prices_each_active_rule(solved):
    engine, summary = solved
    prices = runs.price_of_rules(engine, "base")
    assert {"rule", "price_gbp"} <= set(prices.columns)
    assert (prices["price_gbp"] >= -0.01).all()
    assert prices["rule"].str.contains("odep").any()


def test_usage_after_the_agreement_start_is_not_baseline(engine):
    """Delivered actuals (usage dated from the start on) leave the problem unchanged."""
    settings = ScenarioSettings()
    with Session(engine) as session:
        before, _ = build_problem(session, settings)
    with engine.begin() as conn:  # a year of "actuals": last year's rows, a year on, doubled
        conn.execute(
            text(
                "INSERT INTO usage (trust_id, item_id, period, quantity, unit_price_paid, import_id, source_row) "
                "SELECT trust_id, item_id, date(period, '+1 year'), 2 * quantity, unit_price_paid, import_id, "
                "source_row FROM usage WHERE period < :start"
            ),
            {"start": settings.start_date},
        )
    with Session(engine) as session:
        after, _ = build_problem(session, settings)
        assert int(session.scalar(text("SELECT count(*) FROM usage WHERE period >= :s"), {"s": settings.start_date}))
    pd.testing.assert_frame_equal(before.demand, after.demand)
    pd.testing.assert_frame_equal(before.current, after.current)
