"""Sensitivity sweeps: a grid of scenarios run in parallel, and the sensitivity view.

``run_sweep(url, "base", {"range_cap": [1, 2, 3]})`` defines one ordinary scenario per
point of the grid (the cartesian product of the varied values applied to BASE's
settings), named ``base[range_cap=1]``, ``base[range_cap=2]`` ..., and runs them:

* in worker processes (``concurrent.futures.ProcessPoolExecutor``, spawn context),
  or in this process with ``workers=1``;
* on a Dask distributed cluster with ``scheduler="tcp://host:8786"`` (the optional
  ``dask`` extra: ``pip install 'procure[dask]'``).

Only small inputs travel: the database URL and the scenario's name. Each worker opens
its own engine, builds the problem and the model, solves it (HiGHS with one thread: a
sweep gets its parallelism from processes) and stores its run with
:func:`procurement.scenarios.runs.run_scenario`, the very code ``procure scenario run`` uses; it
returns a one-row summary. So sweep runs are ordinary scenarios and runs, and
``scenario compare`` and ``export`` work on them.

Why workers store their own runs: a run's storing transaction is short (tens of
milliseconds) and begins with its first write (the ``ScenarioRun`` insert), so on
SQLite a second writer simply waits on the busy timeout (``PROCURE_DB_TIMEOUT``,
default 30 s) and never meets the read-then-write deadlock; PostgreSQL writers do not
conflict at all. Storing in the parent would mean shipping every result table back
through pickles (or across the network from a Dask cluster) and a second code path
for storing runs; this way a sweep's run is stored exactly as a single run is.

The workers must reach the database at the same URL: a SQLite file needs a shared
file system (fine for processes on this machine or a ``LocalCluster``); a Dask cluster
on other machines needs PostgreSQL.

The scenarios of a sweep are compared like any others, with the sensitivity view
(:mod:`procurement.scenarios.compare`).
"""

import dataclasses
import itertools
import math
import multiprocessing
import os
import socket
import types
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from time import perf_counter
from typing import Union, get_args, get_origin

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from procurement.errors import ProcureError, UnknownReferenceError
from procurement.scenarios.manage import define_scenario, get_settings
from procurement.scenarios.runs import run_scenario
from procurement.scenarios.settings import (
    ALL_TRUSTS,
    ScenarioError,
    ScenarioSettings,
    SettingsError,
    label,
    table_cell,
)

MAX_GRID = 1000
RESULT_COLUMNS = [
    "status",
    "objective_gbp",
    "in_year_gbp",
    "full_year_gbp",
    "gap",
    "range_size",
    "run_id",
    "input_hash",
    "build_seconds",
    "solve_seconds",
    "wall_seconds",
    "worker",
    "message",
]


class SweepError(ScenarioError):
    """A sweep that cannot be run as given (bad --vary syntax, setting or value)."""

    exit_code = 2


# --------------------------------------------------------------------------- the grid


def parse_vary(items: Iterable[str]) -> dict[str, list[str]]:
    """``["range_cap=1,2,3", "trusts=RXA+RXB,all"]`` -> ``{"range_cap": ["1", "2", "3"], ...}``."""
    vary: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError(f"--vary {item!r}: expected SETTING=V1,V2,... (e.g. --vary range_cap=1,2,3)")
        if key in vary:
            raise SweepError(f"--vary {key} is given twice: list all its values in one --vary {key}=V1,V2,...")
        parts = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not v for v in parts):
            raise SweepError(f"--vary {item!r}: an empty value; expected SETTING=V1,V2,... (e.g. range_cap=1,2,3)")
        vary[key] = parts
    if not vary:
        raise SweepError("give at least one --vary SETTING=V1,V2,...")
    return vary


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(ScenarioSettings)}


def _kind(annotation) -> tuple[object, bool]:
    """(the type without None, whether None is allowed) of a settings field's annotation."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _convert(name: str, annotation, raw: object) -> object:
    """A --vary value (text from the command line, or a Python value) as the setting's type."""
    kind, optional = _kind(annotation)
    origin = get_origin(kind)

    def bad(expected: str) -> SweepError:
        return SweepError(f"--vary {name}: {raw!r} is not {expected}")

    if origin is dict:
        raise SweepError(
            f"--vary {name}: a per-group or per-category setting cannot be varied from the command line; "
            "define those scenarios in a TOML file (procure scenario define --file)"
        )
    if isinstance(raw, str):
        text = raw.strip()
        if optional and text.lower() in ("none", "null"):
            return None
        if kind is bool:
            lowered = text.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise bad("true or false")
        if kind is int:
            try:
                return int(text)
            except ValueError:
                raise bad("a whole number" + (" (or none)" if optional else "")) from None
        if kind is float:
            try:
                value = float(text)
            except ValueError:
                raise bad("a number" + (" (or none)" if optional else "")) from None
            if not math.isfinite(value):
                raise bad("a finite number")
            return value
        if origin is tuple:
            if text == ALL_TRUSTS:
                return ()
            parts = [p.strip() for p in text.split("+")]
            if any(not p for p in parts):
                raise bad("a '+'-joined list such as RXA+RXB (or all)")
            if len(set(parts)) < len(parts):
                raise bad("a list without repeats")
            return tuple(sorted(parts))
        return text
    # A Python value (library callers): checked, not converted.
    if raw is None and optional:
        return None
    if kind is bool and isinstance(raw, bool):
        return raw
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind is float and isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if origin is tuple and isinstance(raw, list | tuple) and all(isinstance(p, str) and p for p in raw):
        return tuple(sorted(raw))
    if kind is str and isinstance(raw, str):
        return raw
    raise bad(f"a value of type {getattr(kind, '__name__', kind)}" + (" or None" if optional else ""))


def sweep_name(base: str, point: Mapping[str, object]) -> str:
    """``base[range_cap=1,odep_floor=7A]``: the scenario name of one point of a sweep."""
    return f"{base}[{','.join(f'{k}={label(v)}' for k, v in point.items())}]"


@dataclasses.dataclass(frozen=True)
class GridPoint:
    name: str
    point: dict
    settings: ScenarioSettings


def build_grid(base: str, settings: ScenarioSettings, vary: Mapping[str, list]) -> list[GridPoint]:
    """Every combination of the varied values applied to ``settings``; types and values checked."""
    if not vary:
        raise SweepError("give at least one --vary SETTING=V1,V2,...")
    fields = _fields()
    unknown = sorted(set(vary) - set(fields))
    if unknown:
        raise SweepError(f"--vary: unknown setting(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    converted: dict[str, list] = {}
    for key, values in vary.items():
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise SweepError(f"--vary {key}: expected a list of values")
        typed: list = []
        for raw in values:
            value = _convert(key, fields[key].type, raw)
            if value in typed:
                raise SweepError(f"--vary {key}: the value {label(value)} is given twice")
            typed.append(value)
        if not typed:
            raise SweepError(f"--vary {key}: no values")
        converted[key] = typed
    size = math.prod(len(v) for v in converted.values())
    if size > MAX_GRID:
        raise SweepError(f"the sweep has {size:,} scenarios; at most {MAX_GRID:,} in one sweep")
    base_values = dataclasses.asdict(settings)
    grid = []
    for combo in itertools.product(*converted.values()):
        point = dict(zip(converted, combo, strict=True))
        name = sweep_name(base, point)
        try:
            new = ScenarioSettings.from_mapping({**base_values, **point}, where=name)
        except SettingsError as exc:  # every problem listed; 3 when only names are unknown
            error = SweepError(str(exc))
            error.exit_code = exc.exit_code
            raise error from None
        except ScenarioError as exc:
            raise SweepError(str(exc)) from None
        grid.append(GridPoint(name, point, new))
    return grid


def copy_scenario(
    engine, name: str, new: str, changes: Iterable[str] = (), *, user: str | None = None, replace: bool = False
) -> ScenarioSettings:
    """Define scenario ``new`` as ``name``'s settings with ``changes`` (``KEY=VALUE`` texts,
    read as ``--vary`` reads one value); returns the new settings."""
    parsed: dict[str, object] = {}
    problems: list[tuple[str, str, bool]] = []
    fields = _fields()
    for item in changes:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append((item, "expected KEY=VALUE (e.g. --set range_cap=2)", False))
        elif key not in fields:
            problems.append((key, f"unknown setting (known: {', '.join(fields)})", True))
        else:
            try:
                parsed[key] = _convert(key, fields[key].type, value)
            except SweepError as exc:
                problems.append((key, str(exc).removeprefix(f"--vary {key}: "), False))
    with Session(engine) as session:
        _, settings = get_settings(session, name)
    try:
        merged = ScenarioSettings.from_mapping({**dataclasses.asdict(settings), **parsed}, where=new)
    except SettingsError as exc:
        problems += exc.problems
    if problems:
        raise SettingsError(f"scenario copy {name} {new}", problems)
    define_scenario(engine, new, merged, user=user, replace=replace)
    return merged


def _check_trusts(session: Session, grid: list[GridPoint]) -> None:
    from procurement.models import Trust, Usage

    wanted = {t for g in grid for t in g.settings.trusts}
    if not wanted:
        return
    with_usage = set(
        session.scalars(select(col(Trust.code)).join(Usage, col(Usage.trust_id) == col(Trust.id)).distinct()).all()
    )
    missing = sorted(wanted - with_usage)
    if missing:
        raise UnknownReferenceError(
            f"--vary trusts: {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no usage imported "
            f"(trusts with usage: {', '.join(sorted(with_usage)) or 'none'})"
        )


# --------------------------------------------------------------------------- running


def worker_url(url: str | None) -> str:
    """The database URL as every worker can open it: a SQLite file path made absolute."""
    from procurement.db import resolve_url

    parsed = make_url(resolve_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
            raise SweepError("a sweep needs a database file or server: an in-memory SQLite database is not shared")
        if not database.startswith("file:") and not Path(database).is_absolute():
            parsed = parsed.set(database=str(Path(database).resolve()))
    return parsed.render_as_string(hide_password=False)


def _solve_and_store(engine, name: str, user: str | None, quality: bool) -> dict:
    tick = perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        summary = run_scenario(engine, name, user=user, quality=quality)
    except Exception as exc:  # returned, not raised: a worker's exception may not pickle
        return {"scenario": name, "status": "failed", "message": f"{type(exc).__name__}: {exc}",
                "wall_seconds": perf_counter() - tick, "worker": worker}  # fmt: skip
    return {
        "scenario": name,
        "status": summary["status"],
        "objective_gbp": summary["objective_gbp"],
        "in_year_gbp": summary["in_year_gbp"],
        "full_year_gbp": summary["full_year_gbp"],
        "gap": summary["gap"],
        "range_size": summary["range_size"],
        "run_id": summary["run_id"],
        "input_hash": summary["input_hash"],
        "build_seconds": summary["build_seconds"],
        "solve_seconds": summary["solve_seconds"],
        "wall_seconds": perf_counter() - tick,
        "worker": worker,
        "message": summary["message"] or "",
    }


def run_one(url: str, name: str, user: str | None = None, quality: bool = True) -> dict:
    """One scenario of a sweep, in a worker: own engine, build, solve, store; a one-row summary."""
    from procurement.db import make_engine

    engine = make_engine(url)
    try:
        return _solve_and_store(engine, name, user, quality)
    finally:
        engine.dispose()


def _failed(name: str, exc: BaseException) -> dict:
    return {"scenario": name, "status": "failed", "message": f"{type(exc).__name__}: {exc}"}


def _dask_client(scheduler):
    try:
        from distributed import Client
    except ImportError:
        raise ProcureError(
            "--scheduler needs Dask's distributed scheduler, which is not installed: "
            "pip install 'procure[dask]' (or pip install 'dask[distributed]')"
        ) from None
    from distributed.comm.addressing import parse_address, parse_host_port

    address = getattr(scheduler, "scheduler_address", scheduler)
    try:
        scheme, location = parse_address(str(address))
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise SweepError(
            f"--scheduler {address!r} is not a Dask scheduler address such as tcp://host:8786 ({exc})"
        ) from None
    try:
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ProcureError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _on_dask(client, jobs: list[tuple], done: Callable[[dict], None]) -> None:
    from distributed import as_completed as dask_completed

    futures = client.map(run_one, *zip(*jobs, strict=True), pure=False)
    names = {f.key: job[1] for f, job in zip(futures, jobs, strict=True)}
    for future in dask_completed(futures, loop=client.loop):
        try:
            done(future.result())
        except Exception as exc:  # a worker lost (KilledWorker), or a result that did not travel
            done(_failed(names[future.key], exc))


def _on_processes(n_workers: int, jobs: list[tuple], done: Callable[[dict], None]) -> None:
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(run_one, *job): job[1] for job in jobs}
        for future in as_completed(futures):
            try:
                done(future.result())
            except Exception as exc:  # a worker that died (BrokenProcessPool), or a result that did not pickle
                done(_failed(futures[future], exc))
    except BaseException:  # interrupted: no new scenario starts
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def default_workers(n: int) -> int:
    cores = os.process_cpu_count() if hasattr(os, "process_cpu_count") else os.cpu_count()
    return max(1, min(n, cores or 1))


def run_sweep(
    engine_url: str | None,
    base: str,
    vary: Mapping[str, list],
    workers: int | None = None,
    scheduler=None,
    *,
    user: str | None = None,
    quality: bool = True,
    progress: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Define and run the grid of scenarios ``base`` x ``vary``; one row per scenario, in grid order.

    ``vary`` maps setting names to lists of values: Python values, or text as on the
    command line (``"1"``, ``"none"``, ``"RXA+RXB"``, ``"all"``). ``workers``: worker
    processes (default: the cores, at most one per scenario); 1 runs them one after
    another in this process. ``scheduler``: a Dask scheduler address (or a cluster
    object with ``scheduler_address``) to run them on instead. ``progress`` is called
    with each scenario's row as it finishes.

    The frame has ``scenario``, one column per varied setting, then ``RESULT_COLUMNS``;
    ``attrs`` hold ``base``, ``wall_seconds`` (solving and storing), ``backend``
    (``serial``, ``processes`` or ``dask``) and ``workers``.
    """
    from procurement.db import open_database

    if workers is not None and workers < 1:
        raise SweepError("--workers must be 1 or more")
    if workers is not None and scheduler is not None:
        raise SweepError("give --workers or --scheduler, not both (a Dask cluster has its own workers)")
    url = worker_url(engine_url)
    engine = open_database(url)
    try:
        with Session(engine) as session:
            _, settings = get_settings(session, base)
            grid = build_grid(base, settings, vary)
            _check_trusts(session, grid)
        client = _dask_client(scheduler) if scheduler is not None else None  # before anything is written
        try:
            for g in grid:
                define_scenario(engine, g.name, g.settings, user=user, replace=True)
            names = [g.name for g in grid]
            results: dict[str, dict] = {}

            def done(row: dict) -> None:
                results[row["scenario"]] = row
                if progress:
                    progress(row)

            started = perf_counter()
            jobs = [(url, name, user, quality) for name in names]
            if client is not None:
                backend, n_workers = "dask", len(client.nthreads()) or None
                _on_dask(client, jobs, done)
            elif len(names) == 1 or (workers or default_workers(len(names))) == 1:
                backend, n_workers = "serial", 1
                for name in names:
                    done(_solve_and_store(engine, name, user, quality))
            else:
                backend, n_workers = "processes", min(workers or default_workers(len(names)), len(names))
                _on_processes(n_workers, jobs, done)
            wall = perf_counter() - started
        finally:
            if client is not None:
                client.close()
    finally:
        engine.dispose()

    rows = []
    for g in grid:
        row: dict[str, object] = {"scenario": g.name}
        row.update({k: table_cell(v) for k, v in g.point.items()})
        result = results.get(g.name, {})
        row.update({c: result.get(c) for c in RESULT_COLUMNS})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["scenario", *grid[0].point, *RESULT_COLUMNS])
    frame.attrs.update({"wall_seconds": wall, "backend": backend, "workers": n_workers, "base": base})
    return frame


# --------------------------------------------------------------------------- a sweep's members


def sweep_members(engine, base: str) -> list[str]:
    """The scenarios of a sweep of ``base`` (named ``base[...]``), in the order they were defined."""
    from procurement.models import Scenario

    with Session(engine) as session:
        rows = session.execute(select(col(Scenario.id), col(Scenario.name)).order_by(col(Scenario.id))).all()
    members = [name for _, name in rows if name.startswith(f"{base}[") and name.endswith("]")]
    if not members:
        raise UnknownReferenceError(
            f"no sweep of scenario {base!r} found (scenarios named {base}[...]): "
            f"run procure scenario sweep {base} --vary SETTING=V1,V2,..."
        )
    return members


__all__ = [
    "copy_scenario",
    "MAX_GRID",
    "SweepError",
    "build_grid",
    "label",
    "parse_vary",
    "run_one",
    "run_sweep",
    "sweep_members",
    "sweep_name",
    "worker_url",
]
