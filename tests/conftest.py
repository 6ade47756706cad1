"""Shared fixtures: a fresh migrated database, and builders of realistic messy input files.

Helpers are handed out as fixtures (``files``, ``gtin``, ``snapshot``...) so that test
modules need no package ``__init__.py`` and import nothing from this file.
"""

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import inspect, text
from stdnum import ean

from procurement.db import open_database

PREFIX_A = "5012345"  # SUP-A's GS1 company prefix
PREFIX_B = "5098765"  # SUP-B's GS1 company prefix

CATALOGUE_HEADER = ("Product Code", "GTIN", "Description", "Brand", "Size", "Pack", "Pack Price")
CATALOGUE_TITLE = ("Alpha Orthopaedics Ltd - NHS price list 2026/27", "Prices in GBP ex VAT", "")

PROFILE_TOML = """\
name = "{name}"
description = "price list with a title block; prices per pack"
{extra}
[columns]
supplier_code = "Product Code"
gtin = "GTIN"
description = "Description"
brand = "Brand"
size = "Size"
pack = "Pack"
price = "Pack Price"

[price]
per = "{per}"
includes_vat = {vat}
vat_rate = 0.20
"""


def make_gtin(prefix: str, n: int, length: int = 13) -> str:
    """A valid GTIN of ``length`` digits: ``prefix``, item number ``n``, GS1 check digit."""
    body = f"{prefix}{n:0{length - 1 - len(prefix)}d}"
    assert len(body) == length - 1, "prefix and item number too long for this GTIN length"
    return body + ean.calc_check_digit(body)


def catalogue_a() -> list[tuple[str, ...]]:
    """SUP-A's price list v1: 7 SKUs in 6 product lines; the screws are priced per box of 10."""
    g = make_gtin
    return [
        ("A-100", g(PREFIX_A, 100), "Cemented femoral stem", "Exeter", "3", "1", "£1,000.00"),
        ("A-101", g(PREFIX_A, 101), "Cemented femoral stem", "Exeter", "4", "EA", "£1,000.00"),
        ("A-200", g(PREFIX_A, 200), "Uncemented HA stem", "Corail", "10", "1", "950.00"),
        ("A-300", g(PREFIX_A, 300), "Tibial insert PS 10mm", "Attune", "10mm", "Each", "310.50"),
        ("A-400", g(PREFIX_A, 400), "Cortical screw 3.5 x 20", "LCP", "20mm", "Box of 10", "£120.00"),
        ("A-500", g(PREFIX_A, 500), "Sliding hip screw 135deg", "DHS", "135", "1", "GBP 240"),
        ("12-345", g(PREFIX_A, 345), "Ceramic femoral head 32mm", "Biolox", "32", "1", "400.00"),
    ]


def catalogue_b() -> list[tuple]:
    """SUP-B's price list: its own GS1 prefix; code 12-345 is also one of SUP-A's codes.

    Prices (and one GTIN) are numbers, as typed into a spreadsheet.
    """
    g = make_gtin
    return [
        ("B-10", g(PREFIX_B, 10), "Cemented femoral stem", "CPT", 2, 1, 900),
        ("B-20", int(g(PREFIX_B, 20)), "Uncemented stem hydroxyapatite", "Taperloc", 7, 1, 1100.0),
        ("B-30", g(PREFIX_B, 30), "Tibial insert PS 12mm", "Vanguard", "12mm", 1, 280.0),
        ("B-40", g(PREFIX_B, 40), "Tibial tray cemented", "Vanguard", 3, 1, 520.0),
        ("B-50", g(PREFIX_B, 50), "Cortical screw 3.5 x 24", "ALPS", "24mm", "Pack 5", 50.0),
        ("12-345", g(PREFIX_B, 345), "Cemented femoral stem", "CPT", 3, 1, 905.25),
    ]


class Files:
    """Writes input files into a test's tmp_path, the way users receive them."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def raw(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def csv(
        self,
        name: str,
        rows: Sequence[Sequence[object]],
        *,
        title: Sequence[str] = (),
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> Path:
        buffer = io.StringIO(newline="")
        for line in title:
            buffer.write(line + "\r\n")
        csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
        return self.raw(name, buffer.getvalue().encode(encoding))

    def xlsx(
        self,
        name: str,
        rows: Sequence[Sequence[object]],
        *,
        title: Sequence[str] = (),
        sheet: str = "Price List",
        extra_sheets: Sequence[str] = (),
    ) -> Path:
        """A workbook with a title block whose first line is merged across the table's width."""
        workbook = Workbook()
        sheet_ = workbook.active
        sheet_.title = sheet
        for line in title:
            sheet_.append([line] if line else [None])
        if title:
            sheet_.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        for row in rows:
            sheet_.append(list(row))
        for extra in extra_sheets:
            workbook.create_sheet(extra).append(["notes"])
        path = self.root / name
        workbook.save(path)
        return path

    def profile(self, name: str = "test-pack", *, per: str = "pack", vat: bool = False, extra: str = "") -> Path:
        path = self.root / f"{name}.toml"
        path.write_text(PROFILE_TOML.format(name=name, per=per, vat=str(vat).lower(), extra=extra), encoding="utf-8")
        return path

    def catalogue(
        self,
        name: str,
        items: Sequence[Sequence[object]],
        *,
        title: Sequence[str] = CATALOGUE_TITLE,
        header: Sequence[str] = CATALOGUE_HEADER,
        **kwargs,
    ) -> Path:
        """A price list (CSV or XLSX by the name's suffix) with a title block above the header."""
        rows = [tuple(header), *[tuple(i) for i in items]]
        if name.endswith(".xlsx"):
            return self.xlsx(name, rows, title=[t for t in title], **kwargs)
        return self.csv(name, rows, title=title, **kwargs)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


@pytest.fixture
def gtin() -> Callable[..., str]:
    return make_gtin


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/t.db"


def take_snapshot(engine) -> dict[str, list[tuple]]:
    """Every table's rows (ordered), to prove that a refused import changed nothing."""
    with engine.connect() as connection:
        return {
            name: [tuple(r) for r in connection.execute(text(f'SELECT * FROM "{name}" ORDER BY 1')).all()]
            for name in sorted(inspect(engine).get_table_names())
        }


@pytest.fixture
def snapshot() -> Callable[..., dict[str, list[tuple]]]:
    return take_snapshot


@pytest.fixture
def count() -> Callable[..., int]:
    def count_rows(engine, table: str, where: str = "") -> int:
        with engine.connect() as connection:
            sql = f'SELECT COUNT(*) FROM "{table}"' + (f" WHERE {where}" if where else "")
            return connection.execute(text(sql)).scalar_one()

    return count_rows


@pytest.fixture
def rows() -> Callable[..., list[dict]]:
    def select_rows(engine, sql: str, **params) -> list[dict]:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(sql), params)]

    return select_rows


def write_reference_files(files: Files) -> dict[str, Path]:
    """Trusts and suppliers as a procurement lead would keep them."""
    return {
        "trusts": files.csv(
            "trusts.csv",
            [
                ("Trust Code", "Trust Name", "Region"),
                ("RXA", "Alpha Hospitals NHS Foundation Trust", "North West"),
                ("RXB", "Beta Teaching Hospitals NHS Trust", "North West"),
                ("RXC", "Gamma and District NHS Trust", "North West"),
            ],
        ),
        "suppliers": files.csv(
            "suppliers.csv",
            [
                ("code", "name", "gs1_prefix"),
                ("SUP-A", "Alpha Orthopaedics Ltd", PREFIX_A),
                ("SUP-B", "Beta Medical UK", PREFIX_B),
                ("SUP-C", "Gamma Trauma", ""),
            ],
        ),
    }


@pytest.fixture
def reference_files(files: Files) -> dict[str, Path]:
    return write_reference_files(files)


class Templates:
    """Database states built once per session, with the input files that built them.

    SQLite syncs every DDL statement and commit to disk, so migrating and importing for
    every test is slow; each test gets a copy of the state it asks for instead. The
    states are built through the same public functions the tests exercise.
    """

    DB = "t.db"

    def __init__(self, factory: pytest.TempPathFactory):
        self.factory = factory
        self.built: dict[str, Path] = {}

    def get(self, state: str) -> Path:
        if state not in self.built:
            self.built[state] = getattr(self, f"_build_{state}")()
        return self.built[state]

    def _derive(self, state: str, base: str | None) -> Path:
        folder = self.factory.mktemp(f"template-{state}")
        if base:
            shutil.copytree(self.get(base), folder, dirs_exist_ok=True)
        return folder

    def _build_migrated(self) -> Path:
        folder = self._derive("migrated", None)
        open_database(f"sqlite:///{folder / self.DB}").dispose()
        return folder

    def _build_region(self) -> Path:
        from procurement.importers import import_suppliers, import_trusts

        folder = self._derive("region", "migrated")
        engine = open_database(f"sqlite:///{folder / self.DB}")
        paths = write_reference_files(Files(folder))
        import_trusts(engine, paths["trusts"])
        import_suppliers(engine, paths["suppliers"])
        engine.dispose()
        return folder

    def _build_catalogues(self) -> Path:
        from procurement.importers import import_catalogue

        folder = self._derive("catalogues", "region")
        engine = open_database(f"sqlite:///{folder / self.DB}")
        files = Files(folder)
        profile = str(files.profile())
        import_catalogue(engine, files.catalogue("sup-a.csv", catalogue_a()), supplier="SUP-A", profile=profile)
        import_catalogue(engine, files.catalogue("sup-b.xlsx", catalogue_b()), supplier="SUP-B", profile=profile)
        engine.dispose()
        return folder

    def open(self, state: str, tmp_path: Path):
        """Copy the state's database and input files into tmp_path; an engine on the copy."""
        target = tmp_path / self.DB
        if target.exists():
            raise RuntimeError("a test may use only one of the fixtures engine, region and catalogues")
        for source in self.get(state).iterdir():
            if source.is_file() and not (tmp_path / source.name).exists():
                shutil.copyfile(source, tmp_path / source.name)
        return open_database(f"sqlite:///{target}")  # a no-op upgrade: already at head


@pytest.fixture
def recalculate_in_libreoffice(tmp_path: Path) -> Callable[[Path | str], Path]:
    """``recalculate(path)``: the workbook at ``path`` opened and saved by headless LibreOffice
    (every formula recalculated, its value cached), as a new file under ``tmp_path``.

    Calling it skips the test where LibreOffice is not installed, and fails it when CI is
    set (CI installs it). The conversion's output is in the failure when no file comes back.
    """

    def recalculate(path: Path | str) -> Path:
        soffice = shutil.which("soffice") or shutil.which("libreoffice")
        if soffice is None:
            if os.environ.get("CI"):
                pytest.fail("CI is set but LibreOffice is not installed (soffice not on PATH): .ci/run installs it")
            pytest.skip("LibreOffice (soffice) is not on PATH: apt-get install libreoffice-calc to run this check")
        out_dir = tmp_path / "recalculated"
        completed = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
                "--headless",
                "--calc",
                "--convert-to",
                "xlsx",
                "--outdir",
                str(out_dir),
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        converted = out_dir / Path(path).name
        assert converted.exists(), (completed.returncode, completed.stdout, completed.stderr)
        return converted

    return recalculate


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Templates:
    return Templates(tmp_path_factory)


@pytest.fixture
def engine(templates: Templates, tmp_path: Path):
    """A fresh database at the latest migration revision, in the test's tmp_path (``db_url``)."""
    engine = templates.open("migrated", tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def region(templates: Templates, tmp_path: Path):
    """A database holding three trusts (RXA, RXB, RXC) and three suppliers (SUP-A/B/C).

    Imports #1 (trusts.csv) and #2 (suppliers.csv); the files are in tmp_path.
    """
    engine = templates.open("region", tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def catalogues(templates: Templates, tmp_path: Path):
    """``region`` plus SUP-A's (import #3, sup-a.csv) and SUP-B's (#4, sup-b.xlsx) catalogues.

    Imported through the pack-price profile ``test-pack.toml``; the files are in tmp_path.
    """
    engine = templates.open("catalogues", tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def catalogue_items() -> dict[str, list[tuple[str, ...]]]:
    return {"SUP-A": catalogue_a(), "SUP-B": catalogue_b()}


# --------------------------------------------------------------------------- demo region


@pytest.fixture(scope="session")
def demo_region_db(tmp_path_factory) -> Path:
    """The size-S demo region imported (not solved) into SQLite, built once per session.

    Tests copy the file before writing to it.
    """
    from procurement.demo import run_demo

    root = tmp_path_factory.mktemp("demo-region-s")
    run_demo(root, size="S", echo=None, solve=False)
    return root / "procure.db"


# --------------------------------------------------------------------------- PostgreSQL
#
# Tests marked ``postgres`` run against a throwaway PostgreSQL server started once per
# session from the machine's own binaries (``initdb``, ``pg_ctl``, ``postgres``: found on
# PATH, else in /usr/lib/postgresql/*/bin, or named by PROCURE_PG_BIN). The cluster
# lives in a fresh directory under the system temp dir, listens on 127.0.0.1 only, on a
# free port, with its unix socket in that directory, trust authentication for the
# database user ``procure``, and fsync off (the data are thrown away). It is stopped and
# deleted at the end of the session.
#
# PostgreSQL refuses to run as root. When the tests run as root, initdb and pg_ctl are
# run as an unprivileged account: ``postgres`` if it exists (Debian's package creates
# it), else ``nobody``; the temp directory is chowned to that account and subprocess's
# ``user=``/``group=`` drop privileges (no su or sudo needed). Without binaries the tests
# are skipped with the reason, except under CI=true, where they fail: .ci/run installs
# Debian's ``postgresql`` package when initdb is missing.

PG_USER = "procure"


def _pg_bin_dir() -> Path | None:
    import os

    candidates = []
    if os.environ.get("PROCURE_PG_BIN"):
        candidates.append(Path(os.environ["PROCURE_PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster (see the comment above); ``url()`` names a new database."""

    def __init__(self, bin_dir: Path):
        import os
        import pwd
        import tempfile

        self.bin_dir = bin_dir
        self.account = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.account = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            else:
                raise RuntimeError(
                    "running as root and there is no 'postgres' or 'nobody' account to run PostgreSQL as: "
                    "create one (useradd --system postgres)"
                )
        self.root = Path(tempfile.mkdtemp(prefix="procure-pg-"))
        if self.account:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.databases = 0

    def _run(self, *args: str, timeout: float = 60):
        import os
        import subprocess

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LC_ALL": "C", "TZ": "UTC"}
        drop = {}
        if self.account:  # root: drop to the unprivileged account for this one command
            drop = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **drop,
        )

    def _fail(self, what: str, result) -> None:
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()}\n{log}")

    def start(self) -> None:
        import socket

        result = self._run(
            "initdb", "-D", str(self.data), f"--username={PG_USER}", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if result.returncode:
            self._fail("initdb", result)
        for _attempt in range(3):  # a free port can be taken between the check and the start
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            options = (
                f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
            )
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", options,
                               "start")  # fmt: skip
            if result.returncode == 0:
                return
        self._fail("pg_ctl start", result)

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, hint: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import re

        import psycopg

        self.databases += 1
        name = f"{re.sub(r'[^a-z0-9]+', '_', hint.lower())[:40]}_{self.databases}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres",
                             autocommit=True) as connection:  # fmt: skip
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's throwaway PostgreSQL server (tests using it are marked ``postgres``)."""
    import importlib.util
    import os

    in_ci = os.environ.get("CI", "").lower() == "true"
    bin_dir = _pg_bin_dir()
    missing = None
    if bin_dir is None:
        missing = (
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH, in /usr/lib/postgresql/*/bin "
            "or in PROCURE_PG_BIN: install Debian's postgresql package to run these tests"
        )
    elif importlib.util.find_spec("psycopg") is None:
        missing = "psycopg is not installed: pip install -e '.[test]' (or '.[postgres]')"
    if missing:
        if in_ci:
            pytest.fail(f"CI=true but {missing}", pytrace=False)
        pytest.skip(missing)
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request) -> str:
    """A new, empty PostgreSQL database for this test (not migrated)."""
    return postgres_server.create_database(request.node.name)
