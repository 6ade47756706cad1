"""The interpreter: 3.13 (3.12.1 has CPython issue 111784), and no malformed XLSX kills the process.

A crash in the interpreter (a segfault) would not be an exception a test can catch: it
kills the process. So every XLSX file of the bad-input corpus is imported in a child
process, and the child must end normally, with the exit codes the manifest documents.
"""

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
CORPUS = ROOT / "tests" / "data" / "bad"
XLSX_CASES = [
    case
    for case in tomllib.loads((CORPUS / "MANIFEST.toml").read_text(encoding="utf-8"))["case"]
    if case["file"].endswith((".xlsx", ".xls"))
]


def test_the_repository_selects_python_3_13_and_the_readme_says_so():
    assert (ROOT / ".python-version").read_text().strip() == "3.13"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "3.13" in readme and "111784" in readme


def test_no_malformed_xlsx_file_kills_the_process(catalogues, db_url):
    assert len(XLSX_CASES) >= 5
    child = textwrap.dedent(
        """
        import faulthandler, json, sys
        from click.testing import CliRunner
        from cli import main

        faulthandler.enable()
        url, cases = sys.argv[1], json.loads(sys.argv[2])
        codes = {}
        for case in cases:
            args = [a.replace("{corpus}", case["corpus"]) for a in case.get("args", [])]
            result = CliRunner().invoke(main, ["--db", url, "import", case["importer"], case["path"], *args, "--json"])
            codes[case["file"]] = result.exit_code
        print(json.dumps(codes))
        """
    )
    cases = [{**c, "path": str(CORPUS / c["file"]), "corpus": str(CORPUS)} for c in XLSX_CASES]
    completed = subprocess.run(
        [sys.executable, "-c", child, db_url, json.dumps(cases)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert completed.returncode == 0, (completed.returncode, completed.stderr[-3000:])  # < 0: killed by a signal
    codes = json.loads(completed.stdout.strip().splitlines()[-1])
    assert codes == {c["file"]: c["exit"] for c in XLSX_CASES}
