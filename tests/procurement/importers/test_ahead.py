"""Files imported in order while worker processes prepare the next ones (ahead.import_in_order)."""

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from procurement.importers.ahead import import_in_order, worker_context
from procurement.importers.core import ImportReport


@dataclass(frozen=True)
class Job:
    """A file of the test: its name, where preparing it is noted, how long preparing it takes."""

    name: str
    notes: Path
    seconds: float = 0.0
    dear: bool = False


def prepare(job: Job) -> tuple[str, int]:
    """Note which process prepared ``job`` and when (one file per preparation), then take ``job.seconds``."""
    started = time.monotonic_ns()
    time.sleep(job.seconds)
    (job.notes / f"{job.name}.{os.getpid()}.{started}").touch()
    return job.name, os.getpid()


def preparations(notes: Path) -> list[tuple[str, int, int]]:
    """(file, process, start) of every preparation, by start."""
    found = [p.name.rsplit(".", 2) for p in notes.iterdir()]
    return sorted(((name, int(pid), int(start)) for name, pid, start in found), key=lambda n: n[2])


def run(jobs: list[Job], import_seconds: float = 0.0, **options) -> list[tuple[str, tuple[str, int] | None]]:
    """import_in_order over ``jobs`` with one worker, each import taking ``import_seconds``:
    (file, what its import was handed), in import order."""
    imported: list[tuple[str, tuple[str, int] | None]] = []

    def import_one(job: Job, prepared: tuple[str, int] | None) -> ImportReport:
        time.sleep(import_seconds)
        imported.append((job.name, prepared))
        return ImportReport(kind="test", file=job.name, sha256="")

    reports = import_in_order(jobs, prepare=prepare, import_one=import_one, workers=1, **options)
    assert [r.file for r in reports] == [job.name for job in jobs]
    return imported


def _skip_unless_the_worker_began(by: dict[str, int], name: str) -> None:
    """Skip what follows unless a worker prepared ``name`` (``by``: file -> process): where the
    worker had not started by then (a very busy machine), this process read it, and the
    schedule the test is about never happened."""
    if by.get(name, os.getpid()) == os.getpid():
        pytest.skip(f"the worker had not begun {name} when its turn came")


forked = pytest.mark.skipif(
    worker_context().get_start_method() != "fork", reason="the test's functions reach forked workers only"
)


@forked
def test_every_file_is_prepared_at_most_once_and_its_import_gets_what_was_prepared(tmp_path):
    # The worker is slow on f1: this process prepares files itself meanwhile (the last ones first).
    jobs = [Job(f"f{i}", tmp_path, seconds=0.5 if i == 1 else 0.0) for i in range(6)]
    imported = run(jobs, import_seconds=0.2)
    done = preparations(tmp_path)
    names = [name for name, _, _ in done]
    assert len(names) == len(set(names))  # nothing prepared twice
    assert "f0" not in names  # the first file is read by its import
    by = {name: pid for name, pid, _ in done}
    for name, prepared in imported:
        # A file prepared by a process is handed to its import as that process prepared it;
        # a file no process prepared ahead is read by its import (None).
        assert prepared == ((name, by[name]) if name in by else None)
    _skip_unless_the_worker_began(by, "f1")
    assert by["f5"] == os.getpid()  # this process took the last file while it waited for f1


@forked
def test_the_dear_files_are_prepared_first_and_this_process_reads_the_cheap_ones_when_their_turn_comes(tmp_path):
    jobs = [Job(f"f{i}", tmp_path, seconds=0.05, dear=i % 2 == 1) for i in range(7)]
    imported = run(jobs, import_seconds=0.2, ahead_first=lambda job: job.dear)
    done = preparations(tmp_path)
    worker = [name for name, pid, _ in done if pid != os.getpid()]
    assert worker  # the worker prepared files
    # The worker takes the dear files first, in order, then the others from the last back;
    # none twice.
    dear = [name for name in worker if name in {"f1", "f3", "f5"}]
    assert worker == sorted(dear) + sorted(set(worker) - set(dear), reverse=True)
    names = [name for name, _, _ in done]
    assert len(names) == len(set(names))
    by = {name: pid for name, pid, _ in done}
    assert imported == [(job.name, (job.name, by[job.name]) if job.name in by else None) for job in jobs]


@forked
def test_an_import_that_raises_stops_the_run(tmp_path):
    jobs = [Job(f"f{i}", tmp_path) for i in range(4)]
    seen: list[str] = []

    def import_one(job: Job, prepared) -> ImportReport:
        if job.name == "f2":
            raise ValueError("refused")
        seen.append(job.name)
        return ImportReport(kind="test", file=job.name, sha256="")

    with pytest.raises(ValueError, match="refused"):
        import_in_order(jobs, prepare=prepare, import_one=import_one, workers=1)
    assert seen == ["f0", "f1"]


@forked
def test_files_here_last_names_are_left_to_the_workers_in_a_run_that_has_others(tmp_path):
    # The worker is slow on f1; this process takes the cheap files, never the dear ones.
    jobs = [Job(f"f{i}", tmp_path, seconds=0.4 if i == 1 else 0.0, dear=i in (1, 4, 5)) for i in range(6)]
    run(jobs, import_seconds=0.2, ahead_first=lambda job: job.dear, here_last=lambda job: job.dear)
    here = {name for name, pid, _ in preparations(tmp_path) if pid == os.getpid()}
    assert not here & {"f1", "f4", "f5"}


@forked
def test_this_process_takes_files_here_last_names_when_it_names_every_file(tmp_path):
    jobs = [Job(f"f{i}", tmp_path, seconds=0.5 if i == 1 else 0.0) for i in range(6)]
    imported = run(jobs, import_seconds=0.2, here_last=lambda job: True)
    by = {name: pid for name, pid, _ in preparations(tmp_path)}
    assert [name for name, _ in imported] == [job.name for job in jobs]
    _skip_unless_the_worker_began(by, "f1")
    assert by["f5"] == os.getpid()  # this process took the last file while it waited for f1


@forked
def test_a_run_leaves_no_thread_behind_so_the_next_run_forks_its_workers_too(tmp_path):
    threads = threading.active_count()
    run([Job(f"f{i}", tmp_path) for i in range(4)], import_seconds=0.05)
    # A thread still joining the workers would have the next run start them from a fork server.
    assert threading.active_count() == threads
    assert worker_context().get_start_method() == "fork"


@forked
def test_the_workers_take_the_cheap_files_from_the_last_back_while_this_process_reads_them_in_order(tmp_path):
    jobs = [Job(f"f{i}", tmp_path, seconds=0.0 if i in (1, 2) else 0.1, dear=i in (1, 2)) for i in range(8)]
    imported = run(jobs, import_seconds=0.2, ahead_first=lambda job: job.dear, here_last=lambda job: job.dear)
    done = preparations(tmp_path)
    worker = [name for name, pid, _ in done if pid != os.getpid()]
    here = [name for name, pid, _ in done if pid == os.getpid()]
    names = [name for name, _, _ in done]
    assert len(names) == len(set(names))
    cheap_by_worker = [name for name in worker if name not in ("f1", "f2")]
    assert cheap_by_worker == sorted(cheap_by_worker, reverse=True)
    assert here == sorted(here)  # this process reads (or steals) the cheap files in order
    by = {name: pid for name, pid, _ in done}
    assert imported == [(job.name, (job.name, by[job.name]) if job.name in by else None) for job in jobs]
    _skip_unless_the_worker_began(by, "f1")
    assert "f7" in worker  # the worker reached the last file before this process did
