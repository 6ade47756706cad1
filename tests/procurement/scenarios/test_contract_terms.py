"""Contract terms end to end on the demo region: problem building, stored per-contract results, JSON, show.

The stored run is re-checked from the result tables alone (``runcontract``, ``runjoin``),
with the rules restated here in pandas: a contract that cannot end early is never left
before its end; an early exit waits for the decision date plus the notice; the
extension is never exceeded; the recomputed exit fees, bridging and off-contract months
equal the stored ones; the contracts of a (trust, category) join together; programme
capacity holds quarter by quarter.
"""

import datetime as dt
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.demo import run_demo
from procurement.reference import frame
from procurement.scenarios import ScenarioSettings, build_problem, manage, runs
from procurement.scenarios.settings import month_offset

DEMO = {"start_date": "2027-04-01", "decision_date": "2026-10-01"}  # as procure demo defines all-trusts


@pytest.fixture(scope="module")
def region_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("region")
    run_demo(root, size="S", echo=None, solve=False)
    return root / "procure.db"


@pytest.fixture(scope="module")
def solved(region_db, tmp_path_factory):
    """The demo's first scenario, solved once for the module."""
    copy = tmp_path_factory.mktemp("solved") / "procure.db"
    shutil.copy(region_db, copy)
    engine = open_database(f"sqlite:///{copy}")
    manage.define_scenario(engine, "all-trusts", ScenarioSettings(**DEMO))
    summary = runs.run_scenario(engine, "all-trusts", quality=False)
    yield engine, summary
    engine.dispose()


def _register(engine) -> pd.DataFrame:
    with Session(engine) as session:
        return frame(
            session,
            text(
                'SELECT t.code AS trust, c.code AS category, s.code AS supplier, k."end", k.notice_months,'
                " k.early_exit, k.exit_fee, k.exit_fee_pct, k.extension_months, k.extension_uplift_pct"
                " FROM contract k JOIN trust t ON t.id = k.trust_id JOIN category c ON c.id = k.category_id"
                " JOIN supplier s ON s.id = k.supplier_id"
            ),
        )


def test_the_problem_has_one_solver_contract_per_register_contract(solved):
    engine, _ = solved
    with Session(engine) as session:
        problem, context = build_problem(session, ScenarioSettings(**DEMO, max_joins_per_quarter=3))
    register = _register(engine)
    ct = problem.contracts.merge(register, on=["trust", "category", "supplier"], validate="one_to_one")
    assert len(ct) == len(register) and len(ct) > 3 * 6  # several contracts per (trust, category)
    assert (problem.contracts.groupby(["trust", "category"]).size() > 1).any()
    start = dt.date(2027, 4, 1)
    ends = [month_offset(start, dt.date.fromisoformat(str(e))) for e in ct["end"]]
    assert ct["end_month"].tolist() == ends and min(ends) < 0 < max(ends)  # months from the start
    assert (ct["early_exit_x"] == ct["early_exit_y"].astype(bool)).all() and (~ct["early_exit_x"]).any()
    assert ct["exit_fee_pct_x"].to_numpy() == pytest.approx(ct["exit_fee_pct_y"].to_numpy() / 100)
    assert ct["extension_uplift"].to_numpy() == pytest.approx(ct["extension_uplift_pct"].to_numpy() / 100)
    assert (ct["notice_months_x"] == ct["notice_months_y"]).all()
    assert (ct["extension_months_x"] == ct["extension_months_y"]).all()
    assert problem.settings.decision_month == -6 and problem.settings.max_joins_per_quarter == 3
    lines = context["lines"].set_index("line")
    listed = problem.lines.set_index("line")["list_price"]
    assert listed.to_numpy() == pytest.approx(lines.loc[listed.index, "catalogue_price"].to_numpy(), rel=1e-6)


def test_a_stored_run_respects_every_contract_term(solved):
    engine, summary = solved
    assert summary["status"] == "optimal" and summary["gap"] <= 1e-4
    with Session(engine) as session:
        stored = frame(
            session,
            text(
                "SELECT t.code AS trust, c.code AS category, k.* FROM runcontract k"
                " JOIN trust t ON t.id = k.trust_id JOIN category c ON c.id = k.category_id WHERE k.run_id = :run"
            ).bindparams(run=summary["run_id"]),
        )
        joins = frame(
            session,
            text(
                "SELECT t.code AS trust, c.code AS category, j.join_month, j.exit_fee_paid, j.bridging_cost,"
                " j.off_contract_cost FROM runjoin j JOIN trust t ON t.id = j.trust_id"
                " JOIN category c ON c.id = j.category_id WHERE j.run_id = :run"
            ).bindparams(run=summary["run_id"]),
        )
    assert len(stored) == len(_register(engine))
    joined = stored[stored["join_month"].notna()].copy()
    m, end = joined["join_month"].astype(int), joined["end_month"].astype(int)
    early = m < end
    # No early exit: never left before its end.
    assert not (early & ~joined["early_exit"].astype(bool)).any()
    # Notice: an early exit no sooner than the decision month (-6) plus the notice.
    assert (m[early] >= -6 + joined.loc[early, "notice_months"]).all()
    # Recomputed from the terms alone: fees, bridging and off-contract months.
    fee = np.where(
        early,
        joined["exit_fee"] + joined["exit_fee_pct"] / 100 * joined["monthly_spend_gbp"] * (end - m),
        0.0,
    )
    assert joined["exit_fee_gbp"].to_numpy() == pytest.approx(fee, abs=0.01)
    ext_end = end + joined["extension_months"].astype(int)
    bridged = np.clip(np.minimum(m, ext_end) - np.maximum(end, 0), 0, None)
    off = np.clip(m - np.maximum(ext_end, 0), 0, None)
    assert (joined["bridging_months"] == bridged).all() and (joined["off_contract_months"] == off).all()
    assert (joined["bridging_months"] <= joined["extension_months"]).all()
    uplift = joined["extension_uplift_pct"] / 100 * joined["monthly_spend_gbp"] * bridged
    assert joined["bridging_gbp"].to_numpy() == pytest.approx(uplift.to_numpy(), abs=0.01)
    # The contracts of a (trust, category) join together, at its join month, and add up to its costs.
    per_tc = joined.groupby(["trust", "category"]).agg(
        months=("join_month", "nunique"),
        join_month=("join_month", "first"),
        fee=("exit_fee_gbp", "sum"),
        bridging=("bridging_gbp", "sum"),
        off=("off_contract_gbp", "sum"),
    )
    assert (per_tc["months"] == 1).all()
    tc = joins.set_index(["trust", "category"]).loc[per_tc.index]
    assert (tc["join_month"].to_numpy() == per_tc["join_month"].to_numpy()).all()
    assert tc["exit_fee_paid"].to_numpy() == pytest.approx(per_tc["fee"].to_numpy(), abs=0.01)
    assert tc["bridging_cost"].to_numpy() == pytest.approx(per_tc["bridging"].to_numpy(), abs=0.01)
    assert tc["off_contract_cost"].to_numpy() == pytest.approx(per_tc["off"].to_numpy(), abs=0.01)
    # Join and notice dates are the months as dates.
    start = dt.date(2027, 4, 1)
    assert all(
        dt.date.fromisoformat(str(d)) == dt.date(start.year + (3 + k) // 12, (3 + k) % 12 + 1, 1)
        for d, k in zip(joined["join_date"], m, strict=True)
    )


def test_the_demo_scenario_joins_in_stages_with_reasons(solved):
    _, summary = solved
    contracts = summary["contracts"]
    joined = contracts[contracts["join_date"].notna()]
    assert joined["join_date"].nunique() >= 3  # staggered joining
    codes = set(contracts["reason_code"])
    assert "leaves_early" in codes and codes & {"no_early_exit", "at_end", "bridged"}
    assert contracts["reason"].str.len().gt(0).all()
    assert contracts["reason"].str.match(r"cannot end early: waits for \d{1,2} \w{3} 20\d\d$").any()
    assert contracts["reason"].str.contains(r"exit fee £[\d,]+ below \d+ months? of savings: leaves early").any()
    assert (contracts.loc[contracts["reason_code"] == "leaves_early", "exit_fee_gbp"] >= 0).all()
    fees = contracts["exit_fee_gbp"]
    assert fees.max() >= 10_000  # exit fees like real ones: tens of thousands and more
    assert summary["common_end_date"] == dt.date(2030, 3, 31)


def test_cli_json_and_show_carry_contracts_range_and_allocation(region_db, tmp_path):
    copy = tmp_path / "procure.db"
    shutil.copy(region_db, copy)
    url = f"sqlite:///{copy}"
    cli = CliRunner()

    def procure(*args):
        result = cli.invoke(main, ["--db", url, *args])
        assert "Traceback" not in result.output, result.output
        return result

    defined = procure(
        "scenario",
        "define",
        "capped",
        "--start",
        "2027-04-01",
        "--decision-date",
        "2026-10-01",
        "--max-joins-per-quarter",
        "4",
    )
    assert defined.exit_code == 0, defined.output
    assert procure("scenario", "define", "bad", "--max-joins-per-quarter", "0").exit_code != 0
    ran = procure("scenario", "run", "capped", "--json")
    assert ran.exit_code == 0, ran.output
    payload = json.loads(ran.stdout)
    shown = json.loads(procure("scenario", "show", "capped", "--json").stdout)
    for data in (payload, shown):
        assert data["settings"]["max_joins_per_quarter"] == 4
        assert data["settings"]["decision_date"] == "2026-10-01"
        assert data["common_end_date"] == "2030-03-31"
        assert data["bound_gbp"] >= data["objective_gbp"] - 0.01
        assert data["baseline_gbp"] > data["objective_gbp"] > 0
        contract = data["contracts"][0]
        fields = [
            "trust",
            "supplier",
            "category",
            "reference",
            "current_end",
            "notice_by",
            "join_date",
            "exit_fee_gbp",
            "bridging_months",
            "bridging_gbp",
            "off_contract_gbp",
            "reason",
        ]
        assert list(contract)[: len(fields)] == fields
        for row in data["contracts"]:
            for field in ("current_end", "join_date", "notice_by"):
                dt.date.fromisoformat(row[field])  # ISO dates
        # Capacity: at most 4 (trust, category) pairs join in any quarter of the agreement.
        firsts = {(c["trust"], c["category"]): c["join_date"] for c in data["contracts"]}
        quarters = pd.Series(
            [(dt.date.fromisoformat(d).year, (dt.date.fromisoformat(d).month - 4) % 12 // 3) for d in firsts.values()]
        ).value_counts()
        assert quarters.max() <= 4
        line = data["range"][0]
        assert list(line) == ["group", "supplier", "brand", "line", "units", "trusts"]
        assert len(data["range"]) == data["range_size"] and all(r["trusts"] for r in data["range"])
        alloc = data["allocation"]
        assert list(alloc[0]) == ["trust", "group", "line", "units", "new_at_trust"]
        assert {a["new_at_trust"] for a in alloc} == {True, False}
        kept = {r["line"] for r in data["range"]}
        assert {a["line"] for a in alloc} <= kept
        assert len({(a["trust"], a["group"], a["line"]) for a in alloc}) == len(alloc)
    assert payload["contracts"] == shown["contracts"]
    text_out = procure("scenario", "show", "capped")
    assert text_out.exit_code == 0
    assert "Kept range per group" in text_out.stdout and "Current contracts: when each joins" in text_out.stdout
    assert "2030-03-31" in text_out.stdout


def test_reasons_in_words():
    from procurement.scenarios.contracts import reason_words

    row = {
        "reason_code": "leaves_early",
        "current_end": dt.date(2028, 3, 31),
        "join_date": dt.date(2027, 10, 1),
        "wait_reason": None,
        "exit_fee_gbp": 120_000.0,
        "end_month": 12,
        "join_month": 6,
        "monthly_savings_gbp": 30_000.0,
        "notice_months": 6,
        "bridging_months": 0,
        "off_contract_months": 0,
        "extension_uplift_pct": 0.0,
    }
    assert reason_words(row) == "exit fee £120,000 below 6 months of savings: leaves early"
    assert "above its 6 months of savings (£180,000)" in reason_words(row | {"exit_fee_gbp": 200_000.0})
    assert reason_words(row | {"exit_fee_gbp": 0.0}) == "no exit fee: leaves early, 6 months before its end"
    assert reason_words(row | {"reason_code": "no_early_exit"}) == "cannot end early: waits for 31 Mar 2028"
    bridged = row | {
        "reason_code": "bridged",
        "bridging_months": 6,
        "off_contract_months": 1,
        "extension_uplift_pct": 3.0,
        "wait_reason": "other_contract",
    }
    assert reason_words(bridged) == (
        "ends 31 Mar 2028, extended 6 months at +3%, 1 month off contract at list prices; joins Oct 2027:"
        " waits for the trust's other contract in the category"
    )
    assert reason_words(row | {"reason_code": "not_joined"}).startswith("stays on its current contract")
