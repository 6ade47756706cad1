"""Rebuild the bad-input corpus in this folder (run by hand; tests never run it).

    .venv/bin/python tests/data/bad/build_corpus.py

The corpus is committed so that every test run reads the same bytes; this script
only documents how the binary members (XLSX, UTF-16, Windows-1252, garbage) were
made and lets a maintainer change one of them. What each file is expected to do is
in MANIFEST.toml; the convention is in README.md.
"""

import csv
import datetime as dt
import io
import random
import zipfile
from pathlib import Path

from openpyxl import Workbook
from stdnum import ean

HERE = Path(__file__).parent
PREFIX_C = "5055555"  # not SUP-A's or SUP-B's GS1 prefix; SUP-C has none on record
CATALOGUE_HEADER = ["Product Code", "GTIN", "Description", "Brand", "Size", "Pack", "Pack Price"]
TITLE = ["Gamma Trauma Ltd - NHS price list 2026/27", "Prices in GBP ex VAT", ""]


def gtin(n: int, prefix: str = PREFIX_C, length: int = 13) -> str:
    body = f"{prefix}{n:0{length - 1 - len(prefix)}d}"
    return body + ean.calc_check_digit(body)


def bad_check_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def csv_text(rows, *, delimiter: str = ",", title=()) -> str:
    buffer = io.StringIO(newline="")
    for line in title:
        buffer.write(line + "\r\n")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def write_csv(name: str, rows, *, delimiter: str = ",", encoding: str = "utf-8", title=()) -> None:
    write(name, csv_text(rows, delimiter=delimiter, title=title).encode(encoding))


def workbook_bytes(rows, *, sheet: str = "Sheet1", merges=(), cached=None) -> bytes:
    """An XLSX; ``cached`` maps a formula cell ("G6") to the value Excel would have saved."""
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(list(row))
    for merge in merges:
        worksheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if not cached:
        return data
    # openpyxl writes formulas without a cached result (<v />); Excel saves both.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                for ref, value in cached.items():
                    start = text.index(f'<c r="{ref}"')
                    end = text.index("</c>", start)
                    cell = text[start:end].replace("<v />", f"<v>{value}</v>")
                    if isinstance(value, str):  # a text result: Excel marks the cell t="str"
                        cell = cell.replace(f'<c r="{ref}"', f'<c r="{ref}" t="str"', 1)
                    text = text[:start] + cell + text[end:]
                content = text.encode()
            target.writestr(item, content)
    return out.getvalue()


HTML_PAGE = (
    b"<!DOCTYPE html>\r\n<html><head><title>Session expired</title></head>"
    b"<body><h1>Your session has expired</h1><p>Please log in to the supplier portal again.</p></body></html>\r\n"
)


def garbage(seed: int, size: int = 2048) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


# --------------------------------------------------------------------------- trusts


def trusts() -> None:
    write("trusts-empty.csv", b"")
    write("trusts-binary.csv", garbage(1))
    write_csv("trusts-missing-name.csv", [["Trust Code", "Region"], ["RXD", "North West"]])
    write_csv("trusts-header-only.csv", [["code", "name", "region"]])
    write_csv(
        "trusts-rows.csv",
        [
            ["code", "name", "region"],
            ["RXD", "Delta Community Trust", "North West"],
            ["R X E", "Epsilon Trust", "North West"],
            ["RXF", "", "North West"],
            ["RXG", "Gamma Two", "North West"],
            ["rxg", "Gamma Three", "North West"],
            ["", "No Code Trust", "North West"],
            ["RXH", '=HYPERLINK("http://example.invalid","click")', "North West"],
            ["", "", ""],
            ["ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "Long Code Trust", "North West"],
            ["[/bold]", "Markup Trust", "North West"],  # console markup is data, too
            ["RXI", "[bold red]Not Bold[/]", "North West"],
        ],
    )
    write_csv(
        "trusts-utf16.csv",
        [["Trust Code", "Trust Name", "Region"], ["RXJ", "Hôpital Général – Jersey", "Îles"]],
        delimiter="\t",
        encoding="utf-16",  # Python writes a BOM (little-endian here)
    )


# --------------------------------------------------------------------------- suppliers


def suppliers() -> None:
    write_csv(
        "suppliers-cp1252.csv",
        [["code", "name", "gs1_prefix"], ["SUP-D", "Müller Médical GmbH", "5066666"], ["SUP-E", "Ørsted £ Co", ""]],
        delimiter=";",
        encoding="cp1252",
    )
    write("suppliers-wrong-delimiter.csv", b"code:name:gs1_prefix\r\nSUP-D:Delta Ortho:5066666\r\n")
    write_csv(
        "suppliers-prefix.csv",
        [
            ["Supplier Code", "Supplier Name", "GS1 Prefix"],
            ["SUP-D", "Delta Ortho", "5066666"],
            ["SUP-E", "Epsilon", "50-6666"],
            ["SUP-F", "Foxtrot", "ABCDEF"],
            ["SUP-G", "Golf", "123"],
            ["SUP-H", "Hotel", ""],
        ],
    )
    write("suppliers-html.xlsx", HTML_PAGE)
    # A heading merged over the whole table above the real headings.
    write(
        "suppliers-merged-header.xlsx",
        workbook_bytes(
            [
                ["Approved suppliers", None, None],
                ["Code", "Name", "GS1 Prefix"],
                ["SUP-D", "Delta Ortho", 5066666],
                ["SUP-E", "Epsilon", "50-6666"],
            ],
            merges=["A1:C1"],
        ),
    )


# --------------------------------------------------------------------------- catalogues


def good_items(start: int = 100):
    return [
        [f"C-{start}", gtin(start), "Cemented femoral stem", "Apex", "3", "1", "£1,000.00"],
        [f"C-{start + 1}", gtin(start + 1), "Tibial insert PS 10mm", "Summit", "10mm", "Each", "310.50"],
        [f"C-{start + 2}", gtin(start + 2), "Cortical screw 3.5 x 20", "Fixa", "20mm", "Box of 10", "£120.00"],
    ]


def catalogues() -> None:
    whole = workbook_bytes([CATALOGUE_HEADER, *good_items()])
    write("catalogue-empty.xlsx", b"")
    write("catalogue-truncated.xlsx", whole[: len(whole) // 2])
    # A sound ZIP container whose sheet XML stops two thirds of the way through.
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(whole)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) * 2 // 3]
            target.writestr(item, content)
    write("catalogue-corrupt-sheet.xlsx", damaged.getvalue())
    write("catalogue-html.xlsx", HTML_PAGE)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "price list to follow")
    write("catalogue-not-a-workbook.xlsx", archive.getvalue())
    write("catalogue-old-excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + garbage(2, 1000))
    write("catalogue-binary.csv", garbage(3))
    write_csv("catalogue-header-only.csv", [CATALOGUE_HEADER], title=TITLE)
    write_csv(
        "catalogue-missing-columns.csv",
        [["Product Code", "Description", "Brand", "Size", "Pack", "Price"], good_items()[0][:1] + good_items()[0][2:]],
    )
    write(
        "catalogue-wrong-delimiter.csv",
        csv_text([CATALOGUE_HEADER, *good_items()], delimiter=":").encode(),
    )
    # A two-row heading: "Pricing" merged over the last two columns, whose own headings
    # are on the row below; no single row holds every heading the profile needs.
    write(
        "catalogue-merged-header.xlsx",
        workbook_bytes(
            [
                ["Gamma Trauma Ltd - NHS price list 2026/27"],
                ["Product Code", "GTIN", "Description", "Brand", "Size", "Pricing", None],
                [None, None, None, None, None, "Pack", "Pack Price"],
                *good_items(),
            ],
            merges=["A1:G1", "F2:G2", "A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:E3"],
        ),
    )
    # Headings merged down over two rows: the header is row 3, row 4 is its empty half.
    write(
        "catalogue-merged-title.xlsx",
        workbook_bytes(
            [
                [TITLE[0]],
                [TITLE[1]],
                CATALOGUE_HEADER,
                [None] * 7,
                *good_items(),
                ["C-103", gtin(103), "Uncemented HA stem", "Apex", "10", "1", "-950"],
            ],
            merges=["A1:G1", "A2:G2", *(f"{c}3:{c}4" for c in "ABCDEFG")],
        ),
    )
    items = good_items()
    write(
        "catalogue-formulas.xlsx",
        workbook_bytes(
            [
                CATALOGUE_HEADER,
                items[0][:6] + ["=500*2"],  # G2: formula with the cached result Excel saved
                items[1][:6] + ["=300+10.5"],  # G3: formula never calculated (no cached value)
                items[2],
                ["C-103", gtin(103), '=CONCATENATE("Uncemented ","HA stem")', "Apex", "10", "1", 950],
            ],
            cached={"G2": 1000, "C5": "Uncemented HA stem"},
        ),
    )
    write_csv(
        "catalogue-prices.csv",
        [
            CATALOGUE_HEADER,
            ["C-100", gtin(100), "Cemented femoral stem", "Apex", "3", "1", "£1,000.00"],
            ["C-101", gtin(101), "Cemented femoral stem", "Apex", "4", "1", "-50.00"],
            ["C-102", gtin(102), "Cemented femoral stem", "Apex", "5", "1", "0.00"],
            ["C-103", gtin(103), "Cemented femoral stem", "Apex", "6", "1", "£250,000.00"],
            ["C-104", gtin(104), "Cemented femoral stem", "Apex", "7", "1", "POA"],
            ["C-105", gtin(105), "Cemented femoral stem", "Apex", "8", "1", "12.5O"],
            ["C-106", gtin(106), "Cemented femoral stem", "Apex", "9", "1", "12,34"],
            ["C-107", gtin(107), "Cemented femoral stem", "Apex", "10", "1", "(45.00)"],
            ["C-108", gtin(108), "Cemented femoral stem", "Apex", "11", "1", "1e3"],
            ["C-109", gtin(109), "Cortical screw 3.5 x 20", "Fixa", "20mm", "Box of 10", "0.04"],
            ["C-110", gtin(110), "Cemented femoral stem", "Apex", "12", "1", "GBP 950"],
            ["C-111", gtin(111), "Cemented femoral stem", "Apex", "13", "1", ""],
            ["C-112", gtin(112), "Cemented femoral stem", "Apex", "14", "1", "NaN"],
            ["C-113", gtin(113), "Cemented femoral stem", "Apex", "15", "1", "Infinity"],
            ["C-114", gtin(114), "Cortical screw 3.5 x 24", "Fixa", "24mm", "Box of 10", "£1,000.00"],
            ["C-115", gtin(115), "Cemented femoral stem", "Apex", "16", "1", "£-5.00"],
        ],
        title=TITLE,
    )
    write_csv(
        "catalogue-gtins.csv",
        [
            CATALOGUE_HEADER,
            ["C-200", gtin(200), "Cemented femoral stem", "Apex", "1", "1", "100"],
            ["C-201", bad_check_digit(gtin(201)), "Cemented femoral stem", "Apex", "2", "1", "100"],
            ["C-202", gtin(202)[:11], "Cemented femoral stem", "Apex", "3", "1", "100"],
            ["C-203", gtin(203)[:6] + "X" + gtin(203)[7:], "Cemented femoral stem", "Apex", "4", "1", "100"],
            ["C-204", gtin(4, "505", 8), "Cemented femoral stem", "Apex", "5", "1", "100"],
            ["C-205", gtin(205, "05055", 12), "Cemented femoral stem", "Apex", "6", "1", "100"],
            [
                "C-206",
                f"{gtin(206)[:1]} {gtin(206)[1:7]}-{gtin(206)[7:]}",
                "Cemented femoral stem",
                "Apex",
                "7",
                "1",
                "100",
            ],
            ["C-207", "0000000000000", "Cemented femoral stem", "Apex", "8", "1", "100"],
            ["C-208", gtin(208), "Cemented femoral stem", "Apex", "9", "1", "100"],
            ["C-209", gtin(208), "Cemented femoral stem", "Apex", "10", "1", "100"],
            ["C-210", "", "Cemented femoral stem", "Apex", "11", "1", "100"],
            ["C-211", "5.05555E+12", "Cemented femoral stem", "Apex", "12", "1", "100"],
        ],
    )
    write_csv(
        "catalogue-duplicates.csv",
        [
            CATALOGUE_HEADER,
            ["C-300", gtin(300), "Cemented femoral stem", "Apex", "1", "1", "100.00"],
            ["C-300", gtin(300), "Cemented femoral stem", "Apex", "1", "1", "120.00"],
            ["C-301", gtin(301), "Cemented femoral stem", "Apex", "2", "1", "100.00"],
            ["C-301", gtin(301), "Cemented  femoral stem ", "Apex", "2", "1", "£100"],
            ["C-302", gtin(302), "Cemented femoral stem", "Apex", "3", "1", "100.00"],
            ["C-303", gtin(303), "Cemented femoral stem", "Apex", "4", "1", "100.00"],
            ["C-303", gtin(303), "Cemented femoral stem, collared", "Apex", "4", "1", "100.00"],
        ],
    )
    write_csv(
        "catalogue-text.csv",
        [
            CATALOGUE_HEADER,
            ["", gtin(400), "Cemented femoral stem", "Apex", "1", "1", "100"],
            ["C-401", gtin(401), "", "Apex", "2", "1", "100"],
            ["C-402", gtin(402), "Cemented femoral stem", "", "3", "1", "100"],
            ["C-403", gtin(403), "Surgical gloves, sterile", "Apex", "M", "Box of 50", "25"],
            [
                "C-404",
                gtin(404),
                '=HYPERLINK("http://example.invalid","Cemented femoral stem")',
                "Apex",
                "5",
                "1",
                "100",
            ],
            ["C-405", gtin(405), "  Cemented   femoral\u00a0stem  ", "  Apex ", "6", "1", "100"],
            ["C-406", gtin(406), "Cemented femoral stem", "Apex", "7", "Box of 0", "100"],
            ["C-407", gtin(407), "Cemented femoral stem", "Apex", "8", "dozen", "100"],
            ["C-408", gtin(408), "Cemented femoral stem", "Apex", "9", "Pack of 20000", "100"],
            ["C-409", gtin(409), "@SUM(1+1) Cortical screw 3.5 x 20", "-Fixa", "20mm", "1", "10"],
        ],
    )
    write_csv(
        "catalogue-cp1252.csv",
        [
            CATALOGUE_HEADER,
            ["C-500", gtin(500), "Tige fémorale cimentée – cemented femoral stem", "Élan", "3", "1", "£1,234.50"],
            ["C-501", gtin(501), "Insert tibial PS – tibial insert PS 10mm", "Élan", "10mm", "1", "£310.00"],
        ],
        delimiter=";",
        encoding="cp1252",
        title=["Liste de prix – 2026"],
    )
    write_csv(
        "catalogue-utf16.csv",
        [
            CATALOGUE_HEADER,
            ["C-600", gtin(600), "Cemented femoral stem Ø 12", "Nordström", "3", "1", "£1,000.00"],
            ["C-601", gtin(601), "Tibial insert PS 10mm", "Nordström", "10mm", "1", "£300.00"],
        ],
        delimiter="\t",
        encoding="utf-16",
    )
    write_csv(
        "catalogue-no-profile.csv",
        [["Cat No", "Item", "Range", "Net"], ["C-700", "Cemented femoral stem", "Apex", "100"]],
    )
    write_csv("catalogue-unknown-supplier.csv", [CATALOGUE_HEADER, *good_items(800)])
    write("catalogue-wrong-sheet.xlsx", workbook_bytes([CATALOGUE_HEADER, *good_items()], sheet="Prices 2026"))
    text = csv_text([CATALOGUE_HEADER, *good_items(900)])
    lines = text.split("\r\n")
    lines[2] = '"' + lines[2]  # an opening quote that is never closed, on row 3
    write("catalogue-unbalanced-quote.csv", "\r\n".join(lines).encode())


# --------------------------------------------------------------------------- usage

A100 = "05012345001005"  # SUP-A's A-100 in the test database (tests/conftest.py)
USAGE_HEADER = ["Item Code", "Qty", "Unit Cost", "Order Date"]


def usage() -> None:
    write_csv(
        "usage-dates.csv",
        [
            USAGE_HEADER,
            ["A-100", "1", "1000", "2026-04-01"],
            ["A-100", "1", "1000", "01/04/2026"],
            ["A-100", "1", "1000", "1 Apr 2026"],
            ["A-100", "1", "1000", "01-Apr-2026"],
            ["A-100", "1", "1000", "2026-04-01T10:30:00"],
            ["A-100", "1", "1000", "Apr 2026"],
            ["A-100", "1", "1000", "31/02/2026"],
            ["A-100", "1", "1000", "2026-02-30"],
            ["A-100", "1", "1000", "13/13/2026"],
            ["A-100", "1", "1000", "00/01/2026"],
            ["A-100", "1", "1000", "31/12/1899"],
            ["A-100", "1", "1000", "yesterday"],
            ["A-100", "1", "1000", ""],
            ["A-100", "1", "1000", "46113"],
        ],
    )
    write_csv(
        "usage-items.csv",
        [
            ["GTIN", "Item Code", "Supplier", "Qty", "Unit Cost", "Date"],
            [A100, "", "", "1", "1000", "2026-04-01"],
            [gtin(999), "", "", "1", "1000", "2026-04-01"],
            [bad_check_digit(A100), "", "", "1", "1000", "2026-04-01"],
            ["", "A-200", "", "1", "950", "2026-04-01"],
            ["", "12-345", "", "1", "400", "2026-04-01"],
            ["", "12-345", "SUP-B", "1", "905.25", "2026-04-01"],
            ["", "Z-999", "", "1", "10", "2026-04-01"],
            ["", "A-300", "SUP-Q", "1", "310.50", "2026-04-01"],
            ["", "", "", "1", "10", "2026-04-01"],
            ["0000000000000", "A-500", "SUP-A", "1", "240", "2026-04-01"],
        ],
    )
    write_csv(
        "usage-numbers.csv",
        [
            USAGE_HEADER,
            ["A-100", "-2", "1000", "2026-04-01"],
            ["A-100", "0", "1000", "2026-04-01"],
            ["A-100", "two", "1000", "2026-04-01"],
            ["A-100", "100000000", "1000", "2026-04-01"],
            ["A-100", "1,000", "1000", "2026-04-01"],
            ["A-100", "2.5", "1000", "2026-04-01"],
            ["A-100", "1", "£-5.00", "2026-04-01"],
            ["A-100", "1", "0", "2026-04-01"],
            ["A-100", "1", "", "2026-04-01"],
            ["A-100", "1", "£1,234.567", "2026-04-01"],
            ["A-100", "1", "£150,000", "2026-04-01"],
            ["A-100", "", "1000", "2026-04-01"],
        ],
    )
    write_csv("usage-unknown-trust.csv", [USAGE_HEADER, ["A-100", "1", "1000", "2026-04-01"]])
    write_csv(
        "usage-cp1252.csv",
        [
            ["Item Code", "Qty", "Unit Cost (£)", "Order Date", "Ward"],
            ["A-100", "2", "£1,000.00", "01/05/2026", "Théâtre 3"],
            ["A-200", "1", "£950.00", "02/05/2026", "Théâtre 4"],
        ],
        delimiter=";",
        encoding="cp1252",
    )
    write_csv(
        "usage-utf16.csv",
        [
            USAGE_HEADER + ["Ward"],
            ["A-100", "2", "£1,000.00", "2026-06-01", "Théâtre 1"],
            ["A-200", "1", "950", "2026-06-02", "Ward 7"],
        ],
        delimiter="\t",
        encoding="utf-16",
    )
    write_csv("usage-missing-item-columns.csv", [["Qty", "Unit Cost", "Date"], ["1", "10", "2026-04-01"]])
    write_csv("usage-header-only.csv", [USAGE_HEADER])
    whole = workbook_bytes([USAGE_HEADER, ["A-100", 1, 1000, "2026-04-01"]] * 20)
    write("usage-truncated.xlsx", whole[: len(whole) * 2 // 3])
    write(
        "usage-formulas.xlsx",
        workbook_bytes(
            [
                USAGE_HEADER,
                ["A-100", "=1+1", 1000, dt.date(2026, 7, 1)],  # B2: cached result 2
                ["A-200", 1, "=900+50", dt.date(2026, 7, 1)],  # C3: never calculated
                ["A-300", 3, 310.5, dt.datetime(2026, 7, 2, 9, 30)],
            ],
            cached={"B2": 2},
        ),
    )
    write(
        "usage-ragged.csv",
        (
            b"Item Code,Qty,Unit Cost,Order Date\r\n"
            b"A-100,1,1000,2026-08-01\r\n"
            b"A-100,1,1000\r\n"
            b"\r\n"
            b"A-200,1,950,2026-08-01,extra,cells,here\r\n"
            b" , ,  ,\r\n"
            b"A-300\r\n"
            b",,,\r\n"
            b"A-400,10,12,2026-08-03\r\n"
        ),
    )
    write(
        "usage-quotes.csv",
        (
            "Item Code,Qty,Unit Cost,Order Date,Notes\r\n"
            'A-100,1,"£1,000.00",2026-09-01,"theatre 2, list 3"\r\n'
            'A-200,1,950,2026-09-01,"two lines:\r\nsecond line, with a comma"\r\n'
            'A-300,"1",310.50,2026-09-01,"she said ""urgent"""\r\n'
            "A-400,x,12,2026-09-01,after the multi-line cell\r\n"
            '"A-500",1,240,2026-09-01,=1+2\r\n'
        ).encode(),
    )
    # Rows pasted together from a UTF-8 export and a Windows-1252 one.
    write(
        "usage-mixed-encoding.csv",
        "Item Code,Qty,Unit Cost,Order Date,Ward\r\nA-100,1,1000,2026-04-01,Théâtre 1\r\n".encode()
        + "A-200,1,950,2026-04-01,Théâtre 2\r\n".encode("cp1252"),
    )
    write("usage-bom-only.csv", b"\xef\xbb\xbf\r\n")
    # A cell of 135,000 characters: over the CSV reader's field limit (131,072).
    write_csv("usage-huge-cell.csv", [[*USAGE_HEADER, "Notes"], ["A-100", "1", "1000", "2026-04-01", "x" * 135_000]])
    text = csv_text([USAGE_HEADER, ["A-100", "1", "1000", "2026-04-01"], ["A-200", "1", "950", "2026-04-01"]] * 3)
    write("usage-unbalanced-quote.csv", text.replace("A-200,1,950", '"A-200,1,950', 1).encode())


# --------------------------------------------------------------------------- contracts, tiers

CONTRACT_HEADER = [
    "trust",
    "supplier",
    "category",
    "reference",
    "start",
    "end",
    "notice_months",
    "exit_fee",
    "extension_months",
    "extension_uplift_pct",
]


def contracts() -> None:
    write_csv(
        "contracts-rows.csv",
        [
            CONTRACT_HEADER,
            ["RXA", "SUP-A", "hip", "C1", "2024-04-01", "2027-03-31", "3", "£5,000", "12", "3%"],
            ["RXB", "SUP-A", "knee", "C2", "2026-04-01", "2025-03-31", "", "", "", ""],
            ["RXC", "SUP-B", "trauma", "C3", "31/02/2026", "2028-01-01", "", "", "", ""],
            ["RZZ", "SUP-A", "hip", "C4", "2025-04-01", "2028-03-31", "", "", "", ""],
            ["RXA", "SUP-Z", "hip", "C5", "2025-04-01", "2028-03-31", "", "", "", ""],
            ["RXA", "SUP-B", "spine", "C6", "2025-04-01", "2028-03-31", "", "", "", ""],
            ["RXB", "SUP-B", "hip", "C7", "01/04/2025", "31/03/2028", "2.5", "", "", ""],
            ["RXC", "SUP-A", "knee", "C8", "2025-04-01", "2028-03-31", "", "-100", "", ""],
            ["RXC", "SUP-B", "hip", "C9", "2025-04-01", "2028-03-31", "", "", "", "150"],
            ["RXB", "SUP-B", "Knee", "C10", "1 Apr 2025", "31-Mar-2028", "6", "0", "0", "0"],
            ["RXA", "SUP-A", "trauma", "C11", "2026-01-01", "2026-01-01", "", "", "", ""],
            ["", "SUP-A", "trauma", "C12", "2026-01-01", "2027-01-01", "", "", "", ""],
            ["RXC", "SUP-A", "trauma", "C13", "2026-01-01", "2027-01-01", "", "", "200", ""],
        ],
    )
    write_csv("contracts-missing-columns.csv", [CONTRACT_HEADER[:5], ["RXA", "SUP-A", "hip", "C1", "2024-04-01"]])
    write("contracts-header-only.xlsx", workbook_bytes([["Contracts register"], CONTRACT_HEADER, [None] * 10]))
    write(
        "contracts-excel-dates.xlsx",
        workbook_bytes(
            [
                ["Contracts register 2026"],
                ["Trust Code", "Supplier Code", "Lot", "Contract Ref", "Start Date", "Expiry", "Termination Fee"],
                ["RXA", "SUP-A", "hip", "X1", dt.date(2025, 4, 1), dt.date(2028, 3, 31), 25000],
                ["RXB", "SUP-B", "knee", "X2", dt.datetime(2025, 4, 1, 0, 0), "31/03/2028", "£1,500.50"],
                ["RXC", "SUP-A", "trauma", "X3", "2026-13-01", dt.date(2028, 3, 31), 0],
            ]
        ),
    )


TIER_HEADER = ["supplier", "offer", "scope", "basis", "threshold", "discount_pct"]


def tiers() -> None:
    write_csv(
        "tiers-rows.csv",
        [
            TIER_HEADER,
            ["SUP-A", "O1", "hip", "units", "100", "2"],
            ["SUP-A", "O1", "hip", "units", "200", "4"],
            ["SUP-A", "O1", "hip", "units", "300", "6"],
            ["SUP-A", "O2", "knee", "units", "100", "5"],
            ["SUP-A", "O2", "knee", "units", "200", "3"],
            ["SUP-B", "O3", "trauma", "spend", "5000", "2"],
            ["SUP-B", "O3", "trauma", "spend", "5000", "3"],
            ["SUP-B", "O4", "HIP-STEM-CEM", "units", "50", "1"],
            ["SUP-B", "O4", "HIP-STEM-CEM", "spend", "100", "2"],
            ["SUP-B", "O5", "spine", "units", "10", "1"],
            ["SUP-B", "O6", "knee", "volume", "10", "1"],
            ["SUP-C", "O7", "hip", "units", "10", "100"],
            ["SUP-C", "O8", "hip", "units", "-5", "2"],
            ["SUP-C", "O9", "hip", "units", "10", "5%"],
            ["SUP-Z", "O10", "hip", "units", "10", "1"],
            ["SUP-C", "O11", "knee", "units", "100", "2"],
            ["SUP-C", "O11", "knee", "units", "lots", "3"],
        ],
    )
    write_csv("tiers-missing-columns.csv", [TIER_HEADER[:4], ["SUP-A", "O1", "hip", "units"]])
    write_csv(
        "tiers-utf16.csv",
        [TIER_HEADER, ["SUP-B", "O20", "knee", "units", "100", "2 %"], ["SUP-B", "O20", "knee", "units", "200", "4 %"]],
        delimiter="\t",
        encoding="utf-16",
    )
    write(
        "tiers-numbers.xlsx",
        workbook_bytes(
            [
                ["Supplier Code", "Offer Code", "Applies To", "Basis", "From", "Discount"],
                ["SUP-A", "X1", "trauma", "spend", 10000.0, 2.5],
                ["SUP-A", "X1", "trauma", "spend", 25000, 5],
                ["SUP-A", "X2", "knee", "units", 50, 1],
                ["SUP-A", "X2", "knee", "units", "ten", 2],
            ]
        ),
    )


# --------------------------------------------------------------------------- ratings, approvals

RATING_HEADER = ["supplier", "brand", "group", "item_code", "rating"]
APPROVAL_HEADER = [
    "trust",
    "supplier",
    "brand",
    "group",
    "decision",
    "clinician",
    "role",
    "date",
    "comment",
    "odep_exception",
]


def ratings() -> None:
    write_csv(
        "ratings-rows.csv",
        [
            RATING_HEADER,
            ["SUP-A", "Exeter", "", "", "10A"],
            ["SUP-A", "Corail", "", "", "11A"],
            ["SUP-A", "Nobrand", "", "", "10A"],
            ["SUP-Z", "Exeter", "", "", "10A"],
            ["SUP-B", "Taperloc", "HIP-STEM-UNC", "", "7A"],
            ["SUP-B", "Vanguard", "", "", "10A*"],
            ["SUP-A", "Exeter", "", "A-100", "13A"],
            ["SUP-A", "Exeter", "", "A-999", "10A"],
            ["SUP-A", "Exeter", "HIP-XYZ", "", "10A"],
            ["SUP-A", "", "", "", "10A"],
            ["SUP-A", "Attune", "", "", ""],
            ["SUP-A", "corail", "", "", "pre-entry"],
        ],
    )
    write("ratings-whitespace.csv", b"  \r\n\t\r\n   \r\n")
    write(
        "ratings-excel.xlsx",
        workbook_bytes(
            [
                ["Supplier", "Product", "Group", "SKU", "ODEP Rating"],
                ["SUP-A", "Exeter", None, None, "10 A*"],
                ["SUP-A", "Corail", None, None, "Pre entry"],
                ["SUP-A", "Attune", None, None, 10],
                ["SUP-B", "CPT", "HIP-STEM-CEM", "B-10", "13A"],
            ]
        ),
    )
    write_csv("ratings-missing-columns.csv", [["supplier", "brand"], ["SUP-A", "Exeter"]])


def approvals() -> None:
    write_csv(
        "approvals-rows.csv",
        [
            APPROVAL_HEADER,
            ["RXA", "SUP-A", "Exeter", "", "approve", "Ms A Surgeon", "consultant", "2026-04-01", "", "no"],
            ["REGIONAL", "SUP-A", "Corail", "", "Approved", "Panel Chair", "chair", "01/04/2026", "", ""],
            ["RZZ", "SUP-A", "Exeter", "", "approve", "Dr X", "", "2026-04-01", "", ""],
            ["", "SUP-A", "Exeter", "", "approve", "Dr X", "", "2026-04-01", "", ""],
            ["RXB", "SUP-A", "Exeter", "", "maybe", "Dr X", "", "2026-04-01", "", ""],
            ["RXB", "SUP-A", "Exeter", "", "reject", "", "", "2026-04-01", "", ""],
            ["RXB", "SUP-A", "Exeter", "", "reject", "Dr X", "", "31/02/2026", "", ""],
            ["RXC", "SUP-A", "Exeter", "", "approve", "Dr Y", "", "2026-04-01", "", "perhaps"],
            ["RXC", "SUP-B", "Vanguard", "KNEE-INSERT-PS", "conditional", "Dr Z", "", "2026-04-02", "", "yes"],
            ["RXC", "SUP-A", "Nobrand", "", "approve", "Dr Z", "", "2026-04-02", "", ""],
            [
                "RXA",
                "SUP-A",
                "Exeter",
                "",
                "reject",
                "=cmd|' /C calc'!A0",
                "+consultant",
                "2026-04-03",
                "@SUM(1+1)\nsecond line, with a comma",
                "",
            ],
        ],
    )
    write("approvals-empty.csv", b"\r\n\r\n")
    write_csv(
        "approvals-utf16.csv",
        [
            APPROVAL_HEADER,
            ["RXB", "SUP-A", "Exeter", "", "approve", "Mr Ó Súilleabháin", "consultant", "2026-05-01", "", ""],
            [
                "RXB",
                "SUP-A",
                "Corail",
                "",
                "reject",
                "Mr Ó Súilleabháin",
                "consultant",
                "2026-05-01",
                "Luxation ≥ 2 %",
                "",
            ],
        ],
        delimiter="\t",
        encoding="utf-16",
    )
    write(
        "approvals-formulas.xlsx",
        workbook_bytes(
            [
                ["Trust Code", "Supplier Code", "Product", "Decision", "Decided By", "Decision Date"],
                ["RXC", "SUP-A", "Exeter", '=IF(TRUE,"approve","reject")', "Dr Y", dt.date(2026, 5, 2)],
                ["RXC", "SUP-A", "Corail", '=IF(TRUE,"approve","reject")', "Dr Y", dt.date(2026, 5, 2)],
                ["RXC", "SUP-A", "Attune", "reject", "Dr Y", dt.datetime(2026, 5, 2, 14, 5)],
            ],
            cached={"D2": "approve"},
        ),
    )
    write_csv("approvals-missing-columns.csv", [APPROVAL_HEADER[:5], ["RXA", "SUP-A", "Exeter", "", "approve"]])


if __name__ == "__main__":
    trusts()
    suppliers()
    catalogues()
    usage()
    contracts()
    tiers()
    ratings()
    approvals()
    write(
        "corpus-pack.toml",
        b"""# The catalogue layout of the corpus: a title block, then these headings; pack prices.
name = "corpus-pack"
description = "bad-input corpus: title block, header found automatically; prices per pack"

[columns]
supplier_code = "Product Code"
gtin = "GTIN"
description = "Description"
brand = "Brand"
size = "Size"
pack = "Pack"
price = "Pack Price"

[price]
per = "pack"
""",
    )
