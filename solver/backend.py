"""Running a built PuLP problem on HiGHS or CBC, and what the solver said.

:func:`run_solver` solves a problem and reports its status, objective and bound as a
:class:`RunResult`; it never reads a variable's value (that is
:func:`solver.solve.read_decisions`' job, and only when the run has a solution).
A missing solver, a solver error and a status PuLP cannot name all become a
``RunResult`` with a message, not an exception. :func:`solve_data` builds and runs a
model without reading values: the feasibility checks of :mod:`solver.explain`.

Layering: this module sits below both :mod:`solver.solve` and :mod:`solver.explain`,
so the solve step can explain an infeasible model without the two importing each other.
"""

import contextlib
import ctypes
import dataclasses
import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import pulp

from solver.data import ModelData
from solver.model import MONEY, build_model
from solver.problem import Settings

_S = pulp.LpSolveStatus
_STATUS = {
    _S.Optimal: "optimal",
    _S.GapLimit: "gap_limit",
    _S.TimeLimit: "time_limit",
    _S.Infeasible: "infeasible",
    _S.Unbounded: "unbounded",
    _S.NotSolved: "not_solved",
}


_UNAVAILABLE = {
    "cbc": "the CBC solver is not available on this machine: install it with "
    "`pip install 'pulp[cbc]'`, or use the HiGHS solver (--solver highs)",
    "highs": "the HiGHS solver is not available on this machine: install it with "
    "`pip install highspy`, or use the CBC solver (--solver cbc)",
}


@dataclass
class RunResult:
    """What one solver run said, before any value is read."""

    status: str
    has_solution: bool
    objective: float | None
    best_bound: float | None
    seconds: float
    message: str = ""


def make_solver(
    settings: Settings,
    mip: bool = True,
    log_path: str | None = None,
    warm: bool = False,
    progress: Callable[[float | None, float | None], None] | None = None,
):
    """The PuLP solver object for ``settings`` (HiGHS in process, or CBC).

    ``warm``: start from the variables' initial values (see :func:`warm_start`).
    ``progress``: called (HiGHS MIP only) from the solver's interrupt callback with the
    best plan's net savings and the solver's bound in GBP (None before the first), so a caller can show
    progress: highspy holds the interpreter lock while it runs, so no other Python
    thread runs until it returns.
    """
    if settings.solver == "cbc":
        return pulp.COIN_CMD(
            mip=mip,
            msg=False,
            timeLimit=settings.time_limit,
            gapRel=settings.gap_rel,
            threads=settings.threads,
            options=["Orbit off"],
            logPath=log_path,
            warmStart=warm,
        )
    callbacks: dict = {}
    hscb = pulp.HiGHS.hscb  # None without highspy (then the solver is unavailable anyway)
    if progress is not None and mip and hscb is not None:
        callbacks = {
            "callbackTuple": (_progress_callback(progress), None),
            "callbacksToActivate": [hscb.HighsCallbackType.kCallbackMipInterrupt],
        }
    return pulp.HiGHS(
        mip=mip,
        msg=settings.msg,
        timeLimit=settings.time_limit,
        gapRel=settings.gap_rel,
        threads=settings.threads,
        warmStart=warm,
        **callbacks,
    )


def _progress_callback(progress: Callable[[float | None, float | None], None]):
    def gbp(value) -> float | None:
        return value / MONEY if value is not None and math.isfinite(value) else None

    def callback(callback_type, message, data_out, data_in, user_data) -> None:
        progress(gbp(data_out.mip_primal_bound), gbp(data_out.mip_dual_bound))

    return callback


@contextlib.contextmanager
def _solver_stdout_silenced(active: bool):
    """Send what native solver code writes to file descriptor 1 to /dev/null.

    highspy 1.16 prints its banner from C++ when the first ``Highs`` object of a
    process is made, whatever the log options; on a command whose stdout is JSON or a
    table that would corrupt the output. Python's own ``sys.stdout`` is not touched.
    """
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # native buffers go to /dev/null, not after it
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def run_solver(
    prob: pulp.LpProblem,
    settings: Settings,
    mip: bool = True,
    warm: bool = False,
    progress: Callable[[float | None, float | None], None] | None = None,
) -> RunResult:
    """Solve ``prob`` and report the status; reads no variable value (``progress``: see :func:`make_solver`)."""
    start = perf_counter()
    if not make_solver(settings, mip=mip).available():
        return RunResult("error", False, None, None, perf_counter() - start, _UNAVAILABLE[settings.solver])
    log_path = None
    if settings.solver == "cbc" and mip:
        fd, log_path = tempfile.mkstemp(prefix="cbc-", suffix=".log")
        os.close(fd)
    try:
        with _solver_stdout_silenced(not settings.msg):
            stats = prob.solve(make_solver(settings, mip=mip, log_path=log_path, warm=warm, progress=progress))
    except (pulp.PulpSolverError, pulp.PulpError, OSError) as exc:
        return RunResult("error", False, None, None, perf_counter() - start, str(exc))
    finally:
        if log_path:
            with contextlib.suppress(OSError):
                os.remove(log_path)
    seconds = perf_counter() - start
    status = _STATUS.get(stats.status)
    has_solution = bool(stats.has_solution)
    message = ""
    if status is None:
        reason = stats.status_str
        if stats.status == _S.Undefined and _highs_says_infeasible(prob):
            status = "infeasible"  # every variable is bounded: "or unbounded" cannot be
        elif has_solution:
            status, message = "time_limit", f"solver stopped early ({reason})"
        elif stats.status in (_S.MemoryLimit, _S.NumericalError, _S.Undefined):
            status, message = "error", f"solver failed ({reason})"
        else:
            status, message = "not_solved", f"solver stopped ({reason})"
    if status in ("infeasible", "unbounded", "not_solved", "error"):
        has_solution = False
    if (
        warm
        and mip
        and settings.solver == "highs"  # CBC runs as a command: prob.solverModel may be an earlier HiGHS LP's
        and status in ("optimal", "gap_limit")
        and _values_not_the_solution(prob, stats.objective)
    ):
        # HiGHS 1.16 can hand back the warm start's values as its solution: after presolve it
        # judged the start in the reduced space at another objective than in the original one,
        # proved a better optimum, and the columns PuLP reads are the start's. The plan would be
        # the start (greedy's), worse than the optimum the solver proved: solve again without it.
        left = dataclasses.replace(settings, time_limit=max(1.0, settings.time_limit - seconds))
        again = run_solver(prob, left, mip=mip, warm=False, progress=progress)
        again.seconds += seconds
        note = "the solver returned its warm start instead of its optimum; solved again without it"
        again.message = f"{again.message}; {note}" if again.message else note
        return again
    objective = stats.objective / MONEY if has_solution and stats.objective is not None else None
    bound = stats.best_bound
    bound = bound / MONEY if bound is not None and math.isfinite(bound) else None
    return RunResult(status, has_solution, objective, bound, seconds, message)


def _values_not_the_solution(prob: pulp.LpProblem, values_objective: float | None) -> bool:
    """True when HiGHS reports an objective other than that of the values it handed back.

    The objective of the values (PuLP's, in the model's units) and HiGHS's own agree to
    rounding whenever the columns are the solver's solution; a relative 1e-7 plus a tenth
    of a penny (the model counts money in thousands, :data:`~solver.model.MONEY`) is far
    above rounding.
    """
    model = getattr(prob, "solverModel", None)
    if model is None or values_objective is None or not hasattr(model, "getInfo"):
        return False
    reported = float(model.getInfo().objective_function_value)
    if not math.isfinite(reported):
        return False
    return abs(reported - values_objective) > 1e-7 * max(1.0, abs(reported)) + 1e-3 * MONEY


def _highs_says_infeasible(prob: pulp.LpProblem) -> bool:
    model = getattr(prob, "solverModel", None)
    if model is None or not hasattr(model, "getModelStatus"):
        return False
    import highspy

    return model.getModelStatus() == highspy.HighsModelStatus.kUnboundedOrInfeasible


def solve_data(data: ModelData, dropped=(), feasibility_only: bool = False) -> RunResult:
    """Build and solve without reading values: for explanations and feasibility checks."""
    m = build_model(data, dropped=dropped, feasibility_only=feasibility_only)
    return run_solver(m.prob, data.settings)
