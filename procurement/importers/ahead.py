"""Several files imported in order, the next ones read ahead in worker processes.

An import has a part that needs no database (reading the file, parsing its cells, the
checks within the file) and a part that does (checking against what is stored, storing,
committing). ``import_in_order`` imports files one by one, in order, in this process (one
transaction each, exactly as one at a time), while workers do the first part of the
next files; where the workers are behind, this process does it for a file no worker has
begun, rather than wait. Each file is prepared by one process only: a shared
flag per file is claimed by whichever begins it first, so a file queued for a worker that
has not begun it can still be taken back (a pool hands each worker its next task before
it is free). What a worker prepared is only a head start: the importer checks it still
describes the file (its sha256) and reads the file itself otherwise, so a failed or
stale read-ahead changes nothing but the time.
"""

import contextlib
import gc
import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext

from procurement.importers.core import ImportReport


def import_in_order[F, P](
    files: Sequence[F],
    *,
    prepare: Callable[[F], P],
    prepare_here: Callable[[F], P] | None = None,
    import_one: Callable[[F, P | None], ImportReport],
    workers: int = 1,
    initializer: Callable[..., object] | None = None,
    initargs: tuple = (),
    here_last: Callable[[F], bool] = lambda f: False,
    ahead_first: Callable[[F], bool] = lambda f: False,
    warm_up: Callable[[], object] | None = None,
    on_report: Callable[[ImportReport], None] | None = None,
) -> list[ImportReport]:
    """``import_one(file, prepared)`` for each file in order; the reports, in order.

    ``prepare(file)`` (a module-level function: it is sent to the workers) is run ahead
    by ``workers`` worker processes (started with ``initializer(*initargs)``) for every
    file but the first. Each file is prepared once, by whichever process claims it first:
    a worker as it begins it, or this process, when the file is next to import and no
    worker has begun it (the import then reads it itself, ``prepared=None``) or, while the
    file it imports next is not ready, by taking another file no worker has begun, through
    ``prepare_here`` if given (what the initializer gave the workers may be at hand here).
    Where ``ahead_first`` holds for some files (the dearest to prepare), the workers take
    those in order and then the others from the last one back, while this process takes
    the others in order, the next ones first: the two meet in the middle. Otherwise the
    workers take the files in order, and this process takes the last ones. Never one for
    which ``here_last`` holds, unless it holds for every file it could take. A file whose read-ahead
    raised is imported with ``prepared=None``. The first ``import_one`` that raises stops
    the run (the files before it stay imported). ``workers=0``, or a single file: every
    file is imported with ``prepared=None``. ``on_report`` receives each report as soon as
    the file is imported.
    ``warm_up()`` is called first when there are workers: what it loads (modules, caches)
    the forked workers start with.
    """
    reports: list[ImportReport] = []

    def landed(report: ImportReport) -> None:
        reports.append(report)
        if on_report is not None:
            on_report(report)

    if workers < 1 or len(files) < 2:
        for f in files:
            landed(import_one(f, None))
        return reports
    with _long_lived_frozen():
        if warm_up is not None:
            warm_up()  # frozen: what it allocates is not walked again and again by the collector
        context = worker_context()
        # One flag per file, set by the process that prepares it (a worker, or this one).
        claims = context.Array("b", len(files))
        claims[0] = 1  # the first file is read here while the workers start
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(claims, initializer, initargs)
        )
        try:
            first = [j for j in range(1, len(files)) if ahead_first(files[j])]
            rest = [j for j in range(1, len(files)) if not ahead_first(files[j])]
            # With dear files, the workers read them, then the others from the last back, while
            # this process reads those others in order (as their turn comes or while it waits);
            # else the workers read in order and this process steals the last files.
            order, takeable = (first + rest[::-1], rest) if first else (rest, rest[::-1])
            # Not the files here_last names, unless all are (taking one of those costs this process
            # more than waiting: for catalogues, an XLSX file and openpyxl's import with it).
            stealable = [j for j in takeable if not here_last(files[j])] or takeable
            ahead: list[Future[P | _Taken] | None] = [None] * len(files)
            for j in order:
                ahead[j] = pool.submit(_prepare_claimed, prepare, j, files[j])
            here: dict[int, P | None] = {0: None}  # prepared by this process (None: by its import)
            for k, f in enumerate(files):
                if k not in here and _claim(claims, k):
                    here[k] = None  # no worker has begun it: its import reads it now
                while k not in here and not _done(ahead[k]):
                    # Rather than wait, prepare a file that no worker has begun (if any).
                    taken = next((j for j in stealable if j > k and j not in here and _claim(claims, j)), None)
                    if taken is None:
                        break
                    here[taken] = _prepared_here(prepare_here or prepare, files[taken])
                landed(import_one(f, here.pop(k) if k in here else _result(ahead[k])))
        finally:
            # The files left are cancelled, and the workers waited for: a thread left behind to
            # join them would have the next run start its workers from a fork server (~0.7 s).
            pool.shutdown(wait=True, cancel_futures=True)
    return reports


class _Taken:
    """What a worker hands back for a file the importing process claimed first."""


_claims = None  # in a worker: the run's claim flags (``_start_worker``)


def _start_worker(claims, initializer: Callable[..., object] | None, initargs: tuple) -> None:
    global _claims
    _claims = claims
    if initializer is not None:
        initializer(*initargs)
        gc.freeze()  # what it loaded lives as long as the worker, as the parent's heap (frozen before the fork)


def _claim(claims, j: int) -> bool:
    """Claim file ``j`` for the calling process: False if a process claimed it before."""
    with claims.get_lock():
        if claims[j]:
            return False
        claims[j] = 1
        return True


def _prepare_claimed[F, P](prepare: Callable[[F], P], j: int, f: F) -> "P | _Taken":
    """``prepare(f)`` in a worker, unless the importing process claimed file ``j`` first."""
    if not _claim(_claims, j):
        return _Taken()
    return prepare(f)


def _done(future: "Future | None") -> bool:
    return future is None or future.done()


def _result[P](future: "Future[P | _Taken] | None") -> P | None:
    """What a worker prepared; None where it raised (or the worker was lost): the import reads the file."""
    if future is None:
        return None
    try:
        prepared = future.result()
    except Exception:
        return None
    return None if isinstance(prepared, _Taken) else prepared


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """The objects that exist now (modules, caches, the database engine) left out of garbage
    collection until the run ends (``gc.freeze``).

    A full collection walks every tracked object: in the importing process the pandas and
    SQLAlchemy heap is walked again and again while the files' frames come and go, and in
    a forked worker the walk also touches (and so copies) the parent's pages. Frozen, they
    are walked by neither: measured, ~0.1 s less CPU in each process for the 20 catalogues
    of benchmark size L. They are handed back to the collector afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _prepared_here[F, P](prepare: Callable[[F], P], f: F) -> P | None:
    """``prepare`` in this process; None where it raised (the import then reads the file and says why)."""
    try:
        return prepare(f)
    except Exception:
        return None


def worker_context() -> BaseContext:
    """Workers forked where this process has one thread (they start at once, modules loaded);
    else from a fork server (forking a threaded process may deadlock the child)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
