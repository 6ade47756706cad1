"""Manage scenarios: define (from settings or a TOML file, ``--replace`` to change), list,
diff, delete, and tell whether a scenario's latest run is stale.

A scenario is a name and its settings (``Scenario.parameters``, JSON); running one is
:mod:`procurement.scenarios.runs`, which reads settings back with ``get_settings``.
Copying a scenario with changed settings is ``sweeps.copy_scenario`` (it reads values
as ``--vary`` does).
"""

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.db import transaction
from procurement.errors import UnknownReferenceError
from procurement.importers import current_user
from procurement.models import (
    RUN_RESULT_TABLES,
    Approval,
    Category,
    DataImport,
    EquivalenceGroup,
    Scenario,
    ScenarioRun,
    ShortlistExport,
    Trust,
)
from procurement.reference import frame
from procurement.scenarios.problem import build_problem, input_hash
from procurement.scenarios.settings import (
    KnownNames,
    ScenarioError,
    ScenarioSettings,
    label,
    load_scenario_file,
    table_cell,
)


def known_names(session: Session) -> KnownNames:
    """The trusts, groups and categories a scenario may name: those in the database."""
    return KnownNames(
        trusts=frozenset(session.scalars(select(col(Trust.code))).all()),
        groups=frozenset(session.scalars(select(col(EquivalenceGroup.code))).all()),
        categories=frozenset(session.scalars(select(col(Category.code))).all()),
    )


def get_settings(session: Session, name: str) -> tuple[Scenario, ScenarioSettings]:
    scenario = session.scalars(select(Scenario).where(col(Scenario.name) == name)).first()
    if scenario is None:
        known = ", ".join(session.scalars(select(col(Scenario.name))).all()) or "none yet"
        raise UnknownReferenceError(f"no scenario named {name!r} (defined: {known})")
    return scenario, ScenarioSettings.from_mapping(json.loads(scenario.parameters), where=name)


def settings_diff(before: ScenarioSettings | dict, after: ScenarioSettings | dict) -> pd.DataFrame:
    """The settings that differ: ``setting``, ``before``, ``after`` (as a table shows them)."""
    a = asdict(before) if isinstance(before, ScenarioSettings) else dict(before)
    b = asdict(after) if isinstance(after, ScenarioSettings) else dict(after)
    keys = [k for k in dict.fromkeys([*a, *b]) if _comparable(a.get(k)) != _comparable(b.get(k))]
    return pd.DataFrame(
        {
            "setting": keys,
            "before": [table_cell(a.get(k)) for k in keys],
            "after": [table_cell(b.get(k)) for k in keys],
        },
        dtype=object,
    )


def _comparable(value):
    return list(value) if isinstance(value, tuple) else value


def define_scenario(
    engine: Engine, name: str, settings: ScenarioSettings, *, user: str | None = None, replace: bool = False
) -> int:
    """Create scenario ``name`` (or, with ``replace``, change its settings); returns its id.

    The settings are validated against the database (trusts, groups and categories must
    exist). An existing scenario is refused unless ``replace``, with what would change.
    """
    with transaction(engine) as session:
        settings.check(name, known=known_names(session))
        scenario = session.scalars(select(Scenario).where(col(Scenario.name) == name)).first()
        if scenario is None:
            scenario = Scenario(name=name, parameters=settings.to_json(), created_by=current_user(user))
            session.add(scenario)
        elif not replace:
            raise ScenarioExistsError(name, settings_diff(json.loads(scenario.parameters), settings))
        else:
            scenario.parameters = settings.to_json()
        session.flush()
        assert scenario.id is not None  # assigned by the flush
        return scenario.id


class ScenarioExistsError(ScenarioError):
    """Defining a scenario that exists: refused unless replaced; the message says what would change."""

    def __init__(self, name: str, changes: pd.DataFrame):
        self.changes = changes
        if len(changes):
            what = "; ".join(f"{r.setting}: {label(r.before)} -> {label(r.after)}" for r in changes.itertuples())
        else:
            what = "no setting would change"
        super().__init__(f"scenario {name!r} exists; --replace to change it ({what})")


def define_from_file(engine: Engine, path: Path, *, user: str | None = None, replace: bool = False) -> list[str]:
    """Define every scenario of a TOML file (``[scenarios.NAME]`` tables) in one transaction:
    all of them, or (any refused) none."""
    with Session(engine) as session:
        known = known_names(session)
        existing = set(session.scalars(select(col(Scenario.name))).all())
    defined = load_scenario_file(path, known=known)
    clash = sorted(set(defined) & existing)
    if clash and not replace:
        raise ScenarioError(
            f"{Path(path).name}: scenario(s) {', '.join(clash)} exist; --replace to change them "
            "(procure scenario diff shows settings side by side)"
        )
    with transaction(engine) as session:
        for name, settings in defined.items():
            scenario = session.scalars(select(Scenario).where(col(Scenario.name) == name)).first()
            if scenario is None:
                session.add(Scenario(name=name, parameters=settings.to_json(), created_by=current_user(user)))
            else:
                scenario.parameters = settings.to_json()
    return list(defined)


def list_scenarios(engine: Engine) -> pd.DataFrame:
    with Session(engine) as session:
        scenarios = frame(
            session, select(col(Scenario.id), col(Scenario.name), col(Scenario.created_at), col(Scenario.created_by))
        )
        runs = frame(
            session,
            select(
                col(ScenarioRun.scenario_id),
                col(ScenarioRun.id).label("run_id"),
                col(ScenarioRun.status),
                col(ScenarioRun.objective),
                col(ScenarioRun.started_at).label("run_at"),
            ),
        )
        latest = runs.sort_values("run_id").drop_duplicates("scenario_id", keep="last")
        # The cheap check for a list (no problem rebuilt); `scenario show` checks exactly.
        stale = {
            int(r.scenario_id): staleness(session, session.get_one(Scenario, int(r.scenario_id)),
                                          session.get_one(ScenarioRun, int(r.run_id)), exact=False)
            for r in latest.itertuples()
        }  # fmt: skip
    table = scenarios.merge(latest, left_on="id", right_on="scenario_id", how="left").drop(columns=["scenario_id"])
    table["stale"] = table["id"].map(stale).fillna("")
    table["run_id"] = table["run_id"].astype("Int64")  # ids are integers (a scenario never run has none)
    return table


def diff_scenarios(engine: Engine, a: str, b: str, *, every: bool = False) -> pd.DataFrame:
    """Settings of scenarios ``a`` and ``b`` side by side: ``setting``, ``a``, ``b``, ``differs``;
    only the settings that differ unless ``every``."""
    with Session(engine) as session:
        _, first = get_settings(session, a)
        _, second = get_settings(session, b)
    x, y = asdict(first), asdict(second)
    table = pd.DataFrame(
        {
            "setting": list(x),
            a: [table_cell(v) for v in x.values()],
            b: [table_cell(y[k]) for k in x],
            "differs": [_comparable(x[k]) != _comparable(y[k]) for k in x],
        },
        dtype=object,
    )
    return table if every else table[table["differs"]].reset_index(drop=True)


def delete_scenario(engine: Engine, name: str) -> int:
    """Delete scenario ``name`` with its runs and their result tables; returns the runs deleted.

    Refused while a shortlist workbook sent out names one of its runs (the import of
    the returned workbook reads that record).
    """
    with transaction(engine) as session:
        scenario, _ = get_settings(session, name)
        run_ids = list(
            session.scalars(select(col(ScenarioRun.id)).where(col(ScenarioRun.scenario_id) == scenario.id)).all()
        )
        shortlists = session.scalars(
            select(col(ShortlistExport.id)).where(
                (col(ShortlistExport.scenario_id) == scenario.id) | col(ShortlistExport.run_id).in_(run_ids)
            )
        ).all()
        if shortlists:
            raise ScenarioError(
                f"scenario {name!r} is named by shortlist workbook(s) sent out "
                f"(export #{', #'.join(map(str, shortlists))}); it is kept so their returns can be read"
            )
        for table in RUN_RESULT_TABLES:
            session.execute(delete(table).where(col(table.run_id).in_(run_ids)))
        session.execute(delete(ScenarioRun).where(col(ScenarioRun.scenario_id) == scenario.id))
        session.delete(scenario)
    return len(run_ids)


def staleness(session: Session, scenario: Scenario, run: ScenarioRun, *, exact: bool = True) -> str:
    """Why run ``run`` no longer reflects its scenario ("" when it is current).

    The settings changed when the scenario's settings differ from the run's. The data
    changed when the input hash recomputed now differs from the stored one (``exact``:
    the problem is rebuilt, about half a second for a region), or, cheaply, when any
    file was imported or clinical decision recorded after the run started.
    """
    reasons = []
    current = json.loads(scenario.parameters)
    if run.settings and _canonical(json.loads(run.settings)) != _canonical(current):
        reasons.append("settings changed")
    if exact:
        try:
            settings = ScenarioSettings.from_mapping(current, where=scenario.name)
            problem, _ = build_problem(session, settings)
            if input_hash(problem) != run.input_hash and not reasons:
                reasons.append("data changed")
        except ScenarioError as exc:
            reasons.append(f"cannot be rebuilt now: {exc}")
    else:
        later = [
            session.scalars(select(func.count()).where(col(DataImport.imported_at) > run.started_at)).one(),
            session.scalars(select(func.count()).where(col(Approval.recorded_at) > run.started_at)).one(),
        ]
        if any(later):
            reasons.append("data changed")
    return "; ".join(reasons)


def _canonical(settings: dict) -> dict:
    """Settings as JSON compares them: defaults filled in, lists and tuples alike."""
    return json.loads(json.dumps({**asdict(ScenarioSettings()), **settings}, sort_keys=True))


__all__ = [
    "ScenarioExistsError",
    "define_from_file",
    "define_scenario",
    "delete_scenario",
    "diff_scenarios",
    "get_settings",
    "known_names",
    "list_scenarios",
    "settings_diff",
    "staleness",
]
