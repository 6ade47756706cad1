"""Importers: one file, one transaction, one ``DataImport`` record.

One module per kind of file, all on the contract of ``core`` (read and hash the file,
refuse a duplicate, reject unusable rows with row, column, value and reason, write
everything in one transaction or nothing). File formats: docs/formats.md.
"""

from procurement.importers.approvals import APPROVALS_SPEC, DECISIONS, import_approvals
from procurement.importers.catalogue import CatalogueFile, import_catalogue, import_catalogues
from procurement.importers.contracts import CONTRACTS_SPEC, import_contracts
from procurement.importers.core import REGIONAL_PANEL, ImportReport, current_user, list_imports, rejected_rows
from procurement.importers.file_sets import catalogue_files, import_catalogue_set, import_usage_set, usage_files
from procurement.importers.ratings import RATINGS_SPEC, import_ratings
from procurement.importers.reference import SUPPLIERS_SPEC, TRUSTS_SPEC, import_suppliers, import_trusts
from procurement.importers.switching import SWITCHING_SPEC, import_switching_costs
from procurement.importers.tiers import TIERS_SPEC, import_tiers
from procurement.importers.usage import USAGE_SPEC, UsageFile, import_usage, import_usage_files

__all__ = [
    "APPROVALS_SPEC",
    "CONTRACTS_SPEC",
    "DECISIONS",
    "RATINGS_SPEC",
    "REGIONAL_PANEL",
    "SUPPLIERS_SPEC",
    "SWITCHING_SPEC",
    "TIERS_SPEC",
    "TRUSTS_SPEC",
    "USAGE_SPEC",
    "CatalogueFile",
    "ImportReport",
    "UsageFile",
    "catalogue_files",
    "current_user",
    "import_approvals",
    "import_catalogue",
    "import_catalogue_set",
    "import_catalogues",
    "import_contracts",
    "import_ratings",
    "import_suppliers",
    "import_switching_costs",
    "import_tiers",
    "import_trusts",
    "import_usage",
    "import_usage_files",
    "import_usage_set",
    "list_imports",
    "rejected_rows",
    "usage_files",
]
