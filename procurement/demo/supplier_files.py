"""Suppliers' price lists as they send them (four layouts, CSV and XLSX) and the answer key.

Part of the generator (``generator._Generator``): writes ``catalogues/SUP-X.csv|xlsx`` in
the supplier's layout (``data/layouts.toml``) with the deliberately bad rows of ``mess``,
records each file in the manifest, and writes ``expected/catalogue_items.csv``.
"""

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from procurement.demo.data import BAD_ROW_EXPECT, CATALOGUE_LAYOUTS, LAYOUT_HEADER_ROWS, REGION_NAME, VAT_RATE
from procurement.demo.helpers import money, stable_xlsx, write_csv
from procurement.demo.region import CatalogueFile
from procurement.demo.state import GeneratorState


def _cells(layout: str, row: dict) -> list:
    """One price-list row in ``layout``: the item's six descriptive cells, then pack and price.

    A priced row carries a float; POA, blank and discontinued rows carry text or None,
    written as they are.
    """
    price, pack = row["price"], row["pack"]
    priced = isinstance(price, float)
    gtin = row["gtin"].zfill(14) if layout == "demo-d" else row["gtin"]
    item = [row["code"], gtin, row["description"], row["brand"], row["component"], row["size"]]
    if layout == "demo-a":  # unit price as text such as £1,234.50, and a status column
        return [*item, str(pack), money(price) if priced else (price or ""), row["status"]]
    if layout == "demo-b":  # price per pack
        return [*item, "EA" if pack == 1 else f"Box of {pack}", round(price * pack, 2) if priced else price]
    if layout == "demo-c":  # price including VAT
        return [*item, str(pack), f"{price * (1 + VAT_RATE):.2f}" if priced else (price or "")]
    return [*item, "EA" if pack == 1 else f"Pack {pack}", price]  # demo-d: GTIN-14, net unit price


class SupplierFiles(GeneratorState):
    def _catalogues(self) -> list[CatalogueFile]:
        rng, sku = self.r_mess, self.sku
        files: list[CatalogueFile] = []
        entries = []
        row_of = np.zeros(len(sku), dtype=int)
        self._col = {
            c: sku[c].tolist()
            for c in ("supplier_code", "gtin", "description", "brand", "component", "size", "pack", "unit_price")
        }
        by_sup = sku.groupby("supplier").indices
        for s in range(len(self.sup)):
            idx = by_sup.get(s)
            if idx is None:
                continue
            rows = self._file_rows(s, len(files), idx, rng)
            layout = self.sup.at[s, "layout"]
            code = self.sup.at[s, "code"]
            path = self.out / "catalogues" / f"{code}{CATALOGUE_LAYOUTS[layout]['suffix']}"
            path.parent.mkdir(parents=True, exist_ok=True)
            first_row = LAYOUT_HEADER_ROWS[layout] + 1
            for r, row in enumerate(rows):
                row["row"] = first_row + r
            self._write_catalogue(path, layout, s, rows)
            self.written.append(path)
            files.append(CatalogueFile(path, code, layout))
            bad_rows = [
                {
                    "row": row["row"],
                    "kind": row["kind"],
                    "expect": BAD_ROW_EXPECT[row["kind"]],
                    "supplier_code": row["code"].strip(),
                    "detail": row.get("detail", ""),
                }
                for row in rows
                if row["kind"]
            ]
            counts: dict[str, int] = {}
            for b in bad_rows:
                counts[b["kind"]] = counts.get(b["kind"], 0) + 1
            valid = int(sku.loc[idx, "valid"].sum())
            entries.append(
                {
                    "file": str(path.relative_to(self.out)),
                    "supplier": code,
                    "profile": layout,
                    "header_row": LAYOUT_HEADER_ROWS[layout],
                    "sheet": CATALOGUE_LAYOUTS[layout].get("sheet"),
                    "data_rows": sum(1 for row in rows if row["kind"] != "blank_row"),
                    "skus": len(idx),
                    "skus_valid": valid,
                    "expected_accepted": valid,
                    "expected_rejected": sum(1 for b in bad_rows if b["expect"] in ("rejected", "dropped")),
                    "bad_counts": counts,
                    "bad_rows": bad_rows,
                }
            )
            for row in rows:
                if row["sku"] >= 0:
                    row_of[row["sku"]] = row["row"]
        sku["row"] = row_of
        self._normalise_weights()
        self.manifest["catalogues"] = entries
        return files

    def _base_row(self, i: int) -> dict:
        col = self._col
        return {
            "sku": i,
            "code": col["supplier_code"][i],
            "gtin": col["gtin"][i],
            "description": col["description"][i],
            "brand": col["brand"][i],
            "component": col["component"][i],
            "size": col["size"][i],
            "pack": int(col["pack"][i]),
            "price": float(col["unit_price"][i]),
            "status": "Active",
            "kind": "",
        }

    def _write_catalogue(self, path: Path, layout: str, s: int, rows: list[dict]) -> None:
        columns = CATALOGUE_LAYOUTS[layout]["columns"]
        table = [[""] * len(columns) if row["kind"] == "blank_row" else _cells(layout, row) for row in rows]
        if layout == "demo-a":
            write_csv(pd.DataFrame(table, columns=columns), path)
        elif layout == "demo-c":
            write_csv(pd.DataFrame(table, columns=columns), path, sep=";", encoding="cp1252")
        else:
            self._write_xlsx(path, layout, s, columns, table)

    def _write_xlsx(self, path: Path, layout: str, s: int, columns: list[str], table: list[list]) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        name = self.sup.at[s, "name"]
        wb = Workbook()
        wb.properties.creator = name
        wb.properties.created = datetime(self.start.year - 1, 3, 1)
        ws = wb.active
        width = len(columns)
        if layout == "demo-b":
            ws.title = "Price List"
            ws["A1"] = name
            ws["A1"].font = Font(bold=True, size=14)
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            ws["A2"] = f"Price list effective {self.start.day} {self.start:%B %Y}"
            ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
            ws["A3"] = "All prices in GBP per pack, excluding VAT"
            ws["A4"] = f"Prepared for: {REGION_NAME}"
            money_col, gtin_text = 8, False
        else:
            notes = ws
            notes.title = "Notes"
            notes["A1"] = f"{name}: NHS price schedule"
            notes["A2"] = "Prices are per unit of measure (UOM), in GBP excluding VAT."
            notes["A3"] = f"Valid from {self.start:%d/%m/%Y} for 12 months. E&OE."
            ws = wb.create_sheet("NHS Pricing")
            ws["A1"] = f"{name} - NHS price schedule {self.start.year}/{(self.start.year + 1) % 100:02d}"
            ws["A1"].font = Font(bold=True, size=12)
            money_col, gtin_text = 8, True
        header_row = LAYOUT_HEADER_ROWS[layout]
        bold = Font(bold=True)
        for j, heading in enumerate(columns, start=1):
            cell = ws.cell(row=header_row, column=j, value=heading)
            cell.font = bold
        for r, values in enumerate(table, start=header_row + 1):
            for j, value in enumerate(values, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=j, value=value)
                if j == money_col and isinstance(value, float):
                    cell.number_format = "£#,##0.00"
                elif j == 2 and gtin_text:
                    cell.number_format = "@"
        for j, w in enumerate((18, 18, 60, 16, 22, 18, 10, 16), start=1):
            ws.column_dimensions[chr(64 + j)].width = w
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        buffer = io.BytesIO()
        wb.save(buffer)
        path.write_bytes(stable_xlsx(buffer.getvalue(), wb.properties.created))

    def _expected(self) -> None:
        sku = self.sku
        out = pd.DataFrame(
            {
                "supplier": self.sup["code"].to_numpy()[sku["supplier"]],
                "supplier_code": sku["supplier_code"],
                "gtin14": sku["gtin14"],
                "group": sku["group"],
                "category": sku["category"],
                "brand": sku["brand"],
                "component": sku["component"],
                "description": sku["description"],
                "size": sku["size"],
                "pack_size": sku["pack"],
                "unit_price": sku["unit_price"].map(lambda x: f"{x:.2f}"),
                "status": np.where(sku["valid"], "ok", sku["bad_kind"]),
                "row": sku["row"].astype("Int64"),
            }
        )
        self._csv(out, "expected/catalogue_items.csv")
