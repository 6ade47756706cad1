"""Clinician shortlist workbooks: sent to a trust's surgeons, read back as approvals.

``export_shortlist`` writes one workbook for a trust (or ``REGIONAL``, the regional
clinical panel): a "Read me" sheet and one sheet per category (Hip, Knee, Trauma).
Each category sheet lists, group by group, every product line of the catalogue that
has an orderable SKU, with its supplier, brand, ODEP rating, price band, whether the
trust uses it today (annual units), the decision in force (who, when) and, given a
scenario, whether the scenario's latest run keeps it. Three columns are for the
surgeon: Decision (a drop-down of approve / reject / conditional), Reason and
Clinician name. Every other cell is locked (sheet and workbook protection on).

Integrity. Sheet protection only guides the surgeon (Excel's protection is easily
removed); the import is what enforces it. Each export is a ``ShortlistExport`` row
whose ``snapshot`` holds every locked cell's value by sheet and address and the
product line of every decision row; the export id is in the workbook (the visible
"Shortlist #N" titles, the hidden ``_shortlist`` sheet and the defined name
``ShortlistExportId``). ``import_shortlist`` finds the export by that id, aligns the
returned rows with the snapshot's (so an added or deleted row is named as such rather
than as a cascade of changed cells), compares every locked cell, checks every
decision, and records the decisions only if nothing is wrong: all or nothing, in one
transaction, like every importer (``procurement.importers``). Each decision becomes an
``Approval`` (the typed clinician name, role "Consultant orthopaedic surgeon", the
reason as comment, decided now, the returned file's sha256) under one ``DataImport``
of kind ``shortlist`` whose ``profile`` names the export ("shortlist #N"). The same
file imported twice is a duplicate: nothing is written.

Price band: a line's regional price is the scenarios' default (``best_paid``: its
regional SKU mix at the lowest price any trust pays for each SKU, else its mean
catalogue price); within its group the cheapest third of the lines is "£", the middle
third "££" and the dearest third "£££". No price itself is shown: one trust's prices
are not disclosed to another's clinicians.

The package: :mod:`.lines` (the candidate lines and what is shown of them),
:mod:`.build` (writing and recording the workbook), :mod:`.snapshot` (the integrity
contract between the two sides) and :mod:`.read` (the check and the decisions).
"""

from procurement.export.shortlist.build import export_shortlist
from procurement.export.shortlist.lines import shortlist_lines
from procurement.export.shortlist.read import (
    KIND,
    ROLE,
    ShortlistRefused,
    ShortlistReport,
    check_shortlist,
    import_shortlist,
)

__all__ = [
    "KIND",
    "ROLE",
    "ShortlistRefused",
    "ShortlistReport",
    "check_shortlist",
    "export_shortlist",
    "import_shortlist",
    "shortlist_lines",
]
