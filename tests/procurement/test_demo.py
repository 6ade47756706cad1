"""The synthetic region generator (procurement/demo.py).

The generated files are read back here with small independent readers (csv, openpyxl,
tomllib, a re-implementation of the taxonomy's first-match rule), not with the
engine's importer, so these tests check the files themselves: sizes, determinism,
classification, GTINs, prices, usage references, layouts and the manifest of
deliberately bad rows.
"""

import csv
import io
import json
import re
import tomllib
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from stdnum import ean

from procurement.demo import SIZES, RegionSize, generate_region

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "catalogues" / "profiles"
TAXONOMY = ROOT / "catalogues" / "taxonomy.toml"
START = date(2027, 4, 1)

PROFILE_KEYS = {"name", "description", "supplier", "sheet", "header_row", "delimiter", "encoding", "columns", "price"}
COLUMN_FIELDS = {"supplier_code", "gtin", "description", "brand", "component", "size", "pack", "price"}
REQUIRED_FIELDS = {"supplier_code", "description", "brand", "price"}
USAGE_ALIASES = {  # docs/formats.md, trust usage
    "gtin": ["gtin", "barcode", "ean"],
    "item_code": ["item_code", "product_code", "catalogue_number", "supplier_code", "cat_no"],
    "supplier": ["supplier"],
    "quantity": ["quantity", "qty", "units"],
    "unit_price": ["unit_price", "unit_cost", "price_paid", "price"],
    "date": ["date", "order_date", "period", "month"],
}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%d-%b-%Y")


def key(text: object) -> str:
    """Column headings match ignoring case, spaces and punctuation (docs/formats.md)."""
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def money(text: str) -> float:
    return float(text.replace("£", "").replace(",", "").strip())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("region-s")
    files = generate_region(root)
    return files, json.loads(files.manifest.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def profiles() -> dict[str, dict]:
    return {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(PROFILES.glob("demo-*.toml"))}


@pytest.fixture(scope="module")
def taxonomy() -> list[tuple[str, str, list, list]]:
    data = tomllib.loads(TAXONOMY.read_text(encoding="utf-8"))
    return [
        (
            g["code"],
            g["category"],
            [re.compile(p) for p in g.get("include", [])],
            [re.compile(p) for p in g.get("exclude", [])],
        )
        for g in data["groups"]
    ]


@pytest.fixture(scope="module")
def expected(region) -> dict[tuple[str, str], dict]:
    files, _ = region
    with (files.root / "expected" / "catalogue_items.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["supplier"], r["supplier_code"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def catalogue_rows(region, profiles) -> dict[str, tuple[list[dict], list[int]]]:
    """Per supplier: the data rows (engine field -> text, plus _row) and blank row numbers."""
    files, _ = region
    return {c.supplier: read_catalogue(c.path, profiles[c.profile]) for c in files.catalogues}


def grid_of(path: Path, profile: dict) -> list[list[str]]:
    if path.suffix == ".xlsx":
        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb[profile["sheet"]] if profile.get("sheet") else wb.worksheets[0]
        grid = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return grid
    text = path.read_bytes().decode(profile["encoding"])
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=profile["delimiter"]))


def read_catalogue(path: Path, profile: dict) -> tuple[list[dict], list[int]]:
    grid = grid_of(path, profile)
    header_row = profile["header_row"]
    header = [key(c) for c in grid[header_row - 1]]
    where = {f: header.index(key(col)) for f, col in profile["columns"].items()}
    rows, blanks = [], []
    for number, cells in enumerate(grid[header_row:], start=header_row + 1):
        if not any(c.strip() for c in cells):
            blanks.append(number)
            continue
        rows.append({f: cells[i] if i < len(cells) else "" for f, i in where.items()} | {"_row": number})
    return rows, blanks


def classify(text: str, taxonomy) -> str | None:
    low = text.lower()
    for code, _cat, include, exclude in taxonomy:
        if all(p.search(low) for p in include) and not any(p.search(low) for p in exclude):
            return code
    return None


def bad_rows(manifest: dict, supplier: str) -> dict[int, dict]:
    entry = next(c for c in manifest["catalogues"] if c["supplier"] == supplier)
    return {b["row"]: b for b in entry["bad_rows"]}


def read_usage(path: Path) -> list[dict]:
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    lookup = {key(a): f for f, aliases in USAGE_ALIASES.items() for a in aliases}
    fields = [lookup.get(key(h)) for h in header]
    out = []
    for number, cells in enumerate(reader, start=2):
        row = {f: v for f, v in zip(fields, cells, strict=True) if f}
        out.append(row | {"_row": number})
    return out


def parse_date(text: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise AssertionError(f"date {text!r} in none of the documented formats")


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- tests


def test_same_seed_same_files_other_seed_other_files(region, tmp_path):
    files, _ = region
    again = generate_region(tmp_path / "again")
    first = sorted(p.relative_to(files.root) for p in files.root.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again.root) for p in again.root.rglob("*") if p.is_file())
    assert first == second
    for rel in first:  # CSV, XLSX, JSON and text alike
        assert (files.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel
    other = generate_region(tmp_path / "other", seed=7)
    assert (other.root / "suppliers.csv").read_bytes() != (files.root / "suppliers.csv").read_bytes()
    assert other.usage[0].path.read_bytes() != files.usage[0].path.read_bytes()


def test_size_s_is_a_realistic_region(region, catalogue_rows, expected, taxonomy):
    files, manifest = region
    assert files.start_date == START
    trusts = read_csv(files.trusts)
    assert len(trusts) == 6 and len({t["code"] for t in trusts}) == 6
    assert all(re.fullmatch(r"R[A-Z]{2}", t["code"]) and "NHS" in t["name"] for t in trusts)
    suppliers = read_csv(files.suppliers)
    assert 8 <= len(suppliers) <= 12
    prefixes = [s["gs1_prefix"] for s in suppliers]
    assert len(set(prefixes)) == len(prefixes) and all(re.fullmatch(r"50\d{5}", p) for p in prefixes)
    # SKUs and product lines, counted from the files themselves
    codes = {(s, r["supplier_code"].strip()) for s, (rows, _) in catalogue_rows.items() for r in rows}
    skus = {k for k in codes if k in expected}
    assert 2000 <= len(skus) <= 4000
    lines = {(s, expected[(s, c)]["brand"], expected[(s, c)]["group"]) for s, c in skus}
    assert len(lines) >= 100 and len(lines) == manifest["counts"]["lines"] == SIZES["S"].lines
    # suppliers per group (PARAMETERS.md): hip 4-6, knee 3-5, trauma 4-8
    per_group = defaultdict(set)
    for s, _brand, group in lines:
        per_group[group].add(s)
    ranges = {"hip": (4, 6), "knee": (3, 5), "trauma": (4, 8)}
    assert set(per_group) == {g[0] for g in taxonomy}
    for code, category, _, _ in taxonomy:
        lo, hi = ranges[category]
        assert lo <= len(per_group[code]) <= hi, code
    # a brand spans several groups of one supplier (a knee system)
    groups_of_brand = Counter((s, b) for s, b, _ in lines)
    assert max(groups_of_brand.values()) >= 4
    # at least three layouts, CSV and XLSX among them
    layouts = {c.profile for c in files.catalogues}
    assert len(layouts) >= 3
    assert {c.path.suffix for c in files.catalogues} == {".csv", ".xlsx"}
    assert len(files.usage) == 6 and len(files.catalogues) == len(suppliers)
    assert {u.trust for u in files.usage} == {t["code"] for t in trusts}
    assert (files.root / "README.txt").read_text(encoding="utf-8").count(".csv") >= 6


def test_every_row_classifies_into_its_intended_group(region, catalogue_rows, expected, taxonomy):
    _, manifest = region
    checked = 0
    for supplier, (rows, _) in catalogue_rows.items():
        bad = bad_rows(manifest, supplier)
        for row in rows:
            text = f"{row.get('component', '')} {row['description']} {row['brand']}"
            got = classify(text, taxonomy)
            kind = bad.get(row["_row"], {}).get("kind")
            if kind == "unclassified":
                assert got is None, row
                continue
            want = expected[(supplier, row["supplier_code"].strip())]["group"]
            assert got == want, (supplier, row)
            checked += 1
    assert checked >= 2000


def test_gtins_valid_except_the_deliberate_ones(region, catalogue_rows):
    files, manifest = region
    prefix = {s["code"]: s["gs1_prefix"] for s in read_csv(files.suppliers)}
    invalid_seen = 0
    for supplier, (rows, _) in catalogue_rows.items():
        bad = bad_rows(manifest, supplier)
        wrong = {r for r, b in bad.items() if b["kind"] == "invalid_gtin"}
        for row in rows:
            gtin = row["gtin"].strip()
            assert re.fullmatch(r"\d{13}|\d{14}", gtin), row
            assert gtin.zfill(14)[1:].startswith(prefix[supplier]), row
            if row["_row"] in wrong:
                assert not ean.is_valid(gtin), row
                invalid_seen += 1
            else:
                assert ean.is_valid(gtin), row
    total_rows = sum(len(rows) for rows, _ in catalogue_rows.values())
    assert invalid_seen == manifest["counts"]["bad_catalogue_rows"]["invalid_gtin"]
    assert 0.002 <= invalid_seen / total_rows <= 0.01


def test_prices_parse_to_the_intended_unit_price(region, catalogue_rows, expected, profiles):
    files, manifest = region
    for cat in files.catalogues:
        profile = profiles[cat.profile]
        rows, _ = catalogue_rows[cat.supplier]
        bad = bad_rows(manifest, cat.supplier)
        for row in rows:
            kind = bad.get(row["_row"], {}).get("kind")
            if kind in ("poa_price", "blank_price", "discontinued"):
                assert row["price"].strip() in ("", "POA"), row
                continue
            if kind in ("conflicting_duplicate", "unclassified"):
                continue
            price = money(row["price"])
            pack = int(re.search(r"\d+", row["pack"]).group()) if re.search(r"\d", row["pack"]) else 1
            if profile["price"]["per"] == "pack":
                price /= pack
            if profile["price"]["includes_vat"]:
                price /= 1 + profile["price"]["vat_rate"]
            item = expected[(cat.supplier, row["supplier_code"].strip())]
            assert round(price, 2) == float(item["unit_price"]), row
            assert pack == int(item["pack_size"])
            component = item["component"]
            assert (pack > 1) == (component == "Bone screw")
            if pack > 1:
                assert pack in (5, 10)


def test_bad_rows_are_recorded_with_reasons(region, catalogue_rows):
    files, manifest = region
    counts = manifest["counts"]["bad_catalogue_rows"]
    for kind in (
        "invalid_gtin",
        "discontinued",
        "conflicting_duplicate",
        "exact_duplicate",
        "unclassified",
        "whitespace",
        "blank_row",
    ):
        assert counts[kind] >= 1, kind
    assert counts["poa_price"] + counts["blank_price"] >= 2
    rejected = sum(c["expected_rejected"] for c in manifest["catalogues"])
    data_rows = sum(c["data_rows"] for c in manifest["catalogues"])
    assert 0.005 <= rejected / data_rows <= 0.05  # a few percent of rows
    for cat, entry in zip(files.catalogues, manifest["catalogues"], strict=True):
        rows, blanks = catalogue_rows[cat.supplier]
        by_row = {r["_row"]: r for r in rows}
        assert entry["data_rows"] == len(rows)
        assert [b["row"] for b in entry["bad_rows"] if b["kind"] == "blank_row"] == blanks
        if cat.path.suffix == ".csv":
            assert blanks == [max(by_row) + 1]  # a trailing blank row
        codes = Counter(r["supplier_code"].strip() for r in rows)
        for bad in entry["bad_rows"]:
            assert bad["expect"] and bad["kind"]
            if bad["kind"] == "blank_row":
                continue
            row = by_row[bad["row"]]
            assert row["supplier_code"].strip() == bad["supplier_code"]
            if bad["kind"] in ("exact_duplicate", "conflicting_duplicate"):
                assert codes[bad["supplier_code"]] == 2
                twins = [r for r in rows if r["supplier_code"].strip() == bad["supplier_code"]]
                same = twins[0] == twins[1] | {"_row": twins[0]["_row"]}
                assert same == (bad["kind"] == "exact_duplicate")
            if bad["kind"] == "whitespace":
                assert row["supplier_code"] != row["supplier_code"].strip() or "  " in row["description"]
        # expected_accepted: distinct codes minus everything rejected
        rejected_codes = {b["supplier_code"] for b in entry["bad_rows"] if b["expect"] == "rejected"}
        assert entry["expected_accepted"] == len(set(codes) - rejected_codes)


def test_usage_references_catalogue_skus_except_the_deliberate_unknowns(region, catalogue_rows, expected):
    files, manifest = region
    rejected = {
        (s, b["supplier_code"])
        for s in catalogue_rows
        for b in bad_rows(manifest, s).values()
        if b["expect"] == "rejected"
    }
    by_gtin, by_code = {}, {}
    for supplier, (rows, _) in catalogue_rows.items():
        for row in rows:
            code = row["supplier_code"].strip()
            if (supplier, code) not in rejected:
                by_gtin[row["gtin"].strip().zfill(14)] = (supplier, code)
                by_code[code] = supplier
    first_month = date(2026, 4, 1)
    layouts, unknown_total, total = set(), 0, 0
    for usage, entry in zip(files.usage, manifest["usage"], strict=True):
        assert entry["trust"] == usage.trust
        rows = read_usage(usage.path)
        assert len(rows) == entry["rows"] > 100
        layouts.add(tuple(sorted(k for k in rows[0] if k != "_row")))
        unknown = []
        for row in rows:
            if row.get("gtin"):
                found = by_gtin.get(row["gtin"].zfill(14))
            else:
                found = row["item_code"] in by_code
                if found and row.get("supplier"):
                    assert by_code[row["item_code"]] == row["supplier"]
            if not found:
                unknown.append({"row": row["_row"], "code": row.get("gtin") or row["item_code"]})
            qty = float(row["quantity"])
            assert qty > 0 and qty == int(qty)
            assert money(row["unit_price"]) > 0
            assert first_month <= parse_date(row["date"]) < START
        assert unknown == [{"row": u["row"], "code": u["code"]} for u in entry["unknown_items"]]
        unknown_total += len(unknown)
        total += len(rows)
    assert 3 <= unknown_total <= 10 and unknown_total == manifest["counts"]["unknown_usage_items"]
    assert total == manifest["counts"]["usage_rows"]
    assert len(layouts) >= 3  # trusts' exports differ (GTIN or product code, aliases)


def test_usage_volumes_and_prices_are_realistic(region, expected):
    files, _ = region
    price = {(r["supplier"], r["supplier_code"]): float(r["unit_price"]) for r in expected.values()}
    code_of = {r["gtin14"]: (r["supplier"], r["supplier_code"]) for r in expected.values()}
    supplier_of = {code: s for s, code in price}
    stems, paid = Counter(), defaultdict(dict)
    for usage in files.usage:
        for row in read_usage(usage.path):
            key_ = (
                code_of.get(row["gtin"].zfill(14))
                if row.get("gtin")
                else (supplier_of.get(row["item_code"]), row["item_code"])
            )
            if key_ not in price:
                continue  # a deliberate unknown
            group = expected[key_]["group"]
            if group.startswith("HIP-STEM"):
                stems[usage.trust] += float(row["quantity"])
            paid[key_][usage.trust] = money(row["unit_price"])
    assert all(250 * 0.8 <= n <= 900 * 1.2 for n in stems.values()), stems  # primary hips a year
    ratios = sorted(max(p.values()) / min(p.values()) for p in paid.values() if len(p) >= 2)
    assert ratios[len(ratios) // 2] > 1.05  # trusts pay different prices for the same SKU
    assert 1.25 <= ratios[int(0.9 * len(ratios))] <= 1.7  # one trust pays ~40% more than the best
    assert ratios[-1] <= 3.5


def test_xlsx_files_have_the_header_on_the_stated_row(region, profiles):
    files, manifest = region
    xlsx = [c for c in files.catalogues if c.path.suffix == ".xlsx"]
    assert {c.profile for c in xlsx} == {"demo-b", "demo-d"}
    for cat in xlsx:
        profile = profiles[cat.profile]
        wb = load_workbook(cat.path)
        assert profile["sheet"] in wb.sheetnames
        ws = wb[profile["sheet"]]
        row = profile["header_row"]
        entry = next(c for c in manifest["catalogues"] if c["supplier"] == cat.supplier)
        assert entry["header_row"] == row
        header = [ws.cell(row=row, column=j).value for j in range(1, ws.max_column + 1)]
        assert set(profile["columns"].values()) <= set(header)
        for above in range(1, row):
            cells = {ws.cell(row=above, column=j).value for j in range(1, ws.max_column + 1)}
            assert not cells & set(profile["columns"].values())
        if cat.profile == "demo-b":
            assert wb.sheetnames == ["Price List"] and ws.merged_cells.ranges
            assert ws["A2"].value == "Price list effective 1 April 2027"
            assert all(ws.cell(row=5, column=j).value is None for j in range(1, 9))
        else:
            assert wb.sheetnames[0] != profile["sheet"]  # a notes sheet comes first
            gtin_col = header.index(profile["columns"]["gtin"]) + 1
            values = [ws.cell(row=r, column=gtin_col).value for r in range(row + 1, ws.max_row + 1)]
            assert all(isinstance(v, str) and re.fullmatch(r"\d{14}", v) for v in values)
            price_col = header.index(profile["columns"]["price"]) + 1
            assert isinstance(ws.cell(row=row + 1, column=price_col).value, float)


def test_profiles_follow_the_schema_and_each_file_matches_exactly_one(region, profiles):
    files, _ = region
    assert set(profiles) == {"demo-a", "demo-b", "demo-c", "demo-d"}
    for name, profile in profiles.items():
        assert set(profile) <= PROFILE_KEYS and "supplier" not in profile
        assert profile["name"] == name and profile["description"]
        assert REQUIRED_FIELDS <= set(profile["columns"]) <= COLUMN_FIELDS
        assert profile["price"]["per"] in ("unit", "pack")
        assert isinstance(profile["header_row"], int)
    assert profiles["demo-c"]["price"]["includes_vat"] is True
    assert profiles["demo-b"]["price"]["per"] == "pack"
    for cat in files.catalogues:
        matches = []
        for name, profile in profiles.items():
            suffix_ok = ("sheet" in profile) == (cat.path.suffix == ".xlsx")
            if not suffix_ok:
                continue
            try:
                grid = grid_of(cat.path, profile)
            except (UnicodeDecodeError, KeyError):
                continue
            wanted = {key(c) for c in profile["columns"].values()}
            rows = grid[: profile["header_row"] + 5]
            if any(wanted <= {key(c) for c in r} for r in rows):
                matches.append(name)
        assert matches == [cat.profile], (cat.path.name, matches)
    # the headings are also distinct by substring: no profile's heading hides in another's
    keys = {n: {key(c) for c in p["columns"].values()} for n, p in profiles.items()}
    for n, cols in keys.items():
        others = {c for m, oc in keys.items() if m != n for c in oc}
        assert any(all(c not in o for o in others) for c in cols), n


def test_encodings_matter(region):
    files, _ = region
    by_profile = defaultdict(list)
    for cat in files.catalogues:
        by_profile[cat.profile].append(cat.path)
    for path in by_profile["demo-c"]:
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("cp1252")
        assert "£" in text.splitlines()[0]
        assert text.splitlines()[0].count(";") == 7
    assert any("é" in p.read_bytes().decode("cp1252") for p in by_profile["demo-c"])
    for path in by_profile["demo-a"]:
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        assert "£" in data.decode("utf-8")


def test_contracts_tiers_ratings_and_approvals(region, expected):
    files, manifest = region
    trusts = {t["code"] for t in read_csv(files.trusts)}
    suppliers = {s["code"] for s in read_csv(files.suppliers)}
    contracts = read_csv(files.contracts)
    assert len(contracts) == manifest["contracts"] >= 6 * 3
    assert len({(c["trust"], c["supplier"], c["category"]) for c in contracts}) == len(contracts)
    assert {c["trust"] for c in contracts} == trusts and {c["category"] for c in contracts} == {"hip", "knee", "trauma"}
    ends = []
    for c in contracts:
        start, end = date.fromisoformat(c["start"]), date.fromisoformat(c["end"])
        assert start < end and c["supplier"] in suppliers
        assert date(2026, 12, 31) <= end <= date(2029, 10, 1)
        assert 3 <= int(c["notice_months"]) <= 6 and 0 <= float(c["exit_fee"]) <= 1_000_000
        assert c["early_exit"] in ("yes", "no") and 0 <= float(c["exit_fee_pct"]) <= 30
        if c["early_exit"] == "no" or end < START:  # no fee where there is nothing to leave early
            assert float(c["exit_fee"]) == 0 and float(c["exit_fee_pct"]) == 0
        assert int(c["extension_months"]) in (0, 6, 12) and 0 <= float(c["extension_uplift_pct"]) <= 5
        ends.append(end)
    assert len(set(ends)) >= len(ends) // 3  # staggered, not co-terminous
    assert min(ends) < START < max(ends) and (max(ends) - min(ends)).days > 2.5 * 365
    # Terms like real ones (PARAMETERS.md): about a third cannot end early; fees as fixed
    # sums and as shares of the remaining value; several contracts per (trust, category).
    no_exit = sum(c["early_exit"] == "no" for c in contracts) / len(contracts)
    assert 0.2 <= no_exit <= 0.45
    assert any(float(c["exit_fee"]) >= 10_000 for c in contracts)
    assert any(float(c["exit_fee_pct"]) > 0 for c in contracts)
    per_pair = Counter((c["trust"], c["category"]) for c in contracts)
    assert max(per_pair.values()) >= 2

    groups = {r["group"] for r in expected.values()}
    tiers = read_csv(files.tiers)
    offers = defaultdict(list)
    for t in tiers:
        assert t["supplier"] in suppliers and t["basis"] in ("units", "spend")
        assert t["scope"] in groups or t["scope"] in ("hip", "knee", "trauma")
        offers[(t["supplier"], t["offer"])].append((float(t["threshold"]), float(t["discount_pct"])))
    assert len({s for s, _ in offers}) >= len(suppliers) // 2
    for tiers_ in offers.values():
        thresholds, discounts = zip(*tiers_, strict=True)
        assert list(thresholds) == sorted(set(thresholds)) and thresholds[0] > 0
        assert list(discounts) == sorted(set(discounts)) and discounts[0] > 0 and discounts[-1] < 20

    ratings = read_csv(files.ratings)
    brand_cat = {(r["supplier"], r["brand"]): r["category"] for r in expected.values()}
    assert all(brand_cat[(r["supplier"], r["brand"])] in ("hip", "knee") for r in ratings)
    recon = [b for b, cat in brand_cat.items() if cat in ("hip", "knee")]
    labels = {(r["supplier"], r["brand"]): r["rating"] for r in ratings}
    good = sum(1 for b in recon if labels.get(b) in ("10A", "10A*", "13A", "15A"))
    mid = sum(1 for b in recon if labels.get(b) in ("3A", "5A", "7A"))
    low = len(recon) - good - mid
    assert 0.65 <= good / len(recon) <= 0.80
    assert 0.10 <= mid / len(recon) <= 0.20
    assert 0.05 <= low / len(recon) <= 0.10

    approvals = read_csv(files.approvals)
    assert {a["trust"] for a in approvals} <= trusts | {"REGIONAL"}
    regional = [a for a in approvals if a["trust"] == "REGIONAL"]
    assert len(regional) >= 0.7 * len(brand_cat) and all(a["decision"] == "approve" or a["comment"] for a in regional)
    rejections = [a for a in approvals if a["decision"] == "reject"]
    assert len(rejections) >= 2 and all(a["comment"] for a in rejections)
    exceptions = [a for a in approvals if a["odep_exception"] == "yes"]
    assert exceptions and all(
        a["decision"] == "approve" and labels.get((a["supplier"], a["brand"]), "") not in ("10A", "10A*", "13A", "15A")
        for a in exceptions
    )
    for a in approvals:
        assert (a["supplier"], a["brand"]) in brand_cat and a["clinician"]
        assert a["role"] == "Consultant orthopaedic surgeon"
        assert date(2026, 4, 1) <= date.fromisoformat(a["date"]) < START
        assert a["group"] == "" or a["group"] in groups
    assert [a["date"] for a in approvals] == sorted(a["date"] for a in approvals)


def test_a_small_custom_size(tmp_path, profiles):
    size = RegionSize(trusts=2, suppliers=3, lines=25, months=3, skus_per_line=4)
    files = generate_region(tmp_path, size=size, seed=11, start_date=date(2028, 1, 1))
    manifest = json.loads(files.manifest.read_text(encoding="utf-8"))
    assert manifest["counts"]["lines"] == 25 and manifest["counts"]["skus"] == 100
    assert len(files.catalogues) <= 3 and len(read_csv(files.suppliers)) == 3
    assert [u.trust for u in files.usage] == [t["code"] for t in read_csv(files.trusts)] and len(files.usage) == 2
    dates = {parse_date(r["date"]) for u in files.usage for r in read_usage(u.path)}
    assert {(d.year, d.month) for d in dates} == {(2027, 10), (2027, 11), (2027, 12)}
    items = read_csv(files.root / "expected" / "catalogue_items.csv")
    assert len(items) == 100 and Counter(Counter((i["supplier"], i["brand"], i["group"]) for i in items).values()) == {
        4: 25
    }
    for cat in files.catalogues:
        rows, _ = read_catalogue(cat.path, profiles[cat.profile])
        assert rows
    # regenerating into the same folder leaves no stale files behind
    generate_region(tmp_path, size=RegionSize(trusts=1, suppliers=2, lines=10, months=1), seed=11)
    assert sorted(p.name for p in (tmp_path / "usage").iterdir()) == ["RXA.csv"]
    assert len(list((tmp_path / "catalogues").iterdir())) <= 2
