"""What openpyxl would make of a plain XLSX package, found without openpyxl.

``xlsx_files`` reads a sheet with python-calamine only where openpyxl (the reference)
would read the same: it asks openpyxl to open the workbook first, for the sheet's title
and part, the styles it reads as dates and the declared dimension, and to parse what
lies around the sheet's cells (anything it refuses stays its to refuse). Importing
openpyxl costs ~0.06 s a process and opening a workbook several milliseconds: more than
calamine's read of a small price list. ``plain_view`` answers the same questions for
packages of the plain shape that openpyxl itself writes (and many export tools): every
part openpyxl would read is checked against a strict grammar, elements and attributes
known by name, each attribute value of a type openpyxl's descriptors accept (whole
numbers, decimals, 0/1/true/false, names from a closed list), so that openpyxl opens such
a package without complaint and reads these answers from it. Anything else (another
part, element or attribute, a value outside those shapes, shared strings, defined names,
a chart sheet...) gives None, and openpyxl is asked as before: the grammar can only send
a file to the slower path, never read one differently.
"""

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# What openpyxl's view holds: (sheet title, its zip member, date style ids, max column, max row,
# number of shared strings).
View = tuple[str, str, set[int], int | None, int | None, int]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
# The workbook content types openpyxl looks for (its _find_workbook_part), besides the plain one.
_OTHER_WORKBOOK_TYPES = {
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
}
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_WORKSHEET_REL = _RELATIONSHIPS + "/worksheet"
_KNOWN_RELS = {_WORKSHEET_REL, _RELATIONSHIPS + "/styles", _RELATIONSHIPS + "/theme"}
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384  # Excel's limits
_SMALL_SHEET = 1 << 14  # bytes: another sheet of the workbook is checked whole only up to this size

# ---- a strict reader of small XML parts: elements, attributes and text, nothing else

_DECLARATION = re.compile(r'<\?xml version="1\.0"(?: encoding="(?i:utf-8)")?(?: standalone="(?:yes|no)")?\s*\?>')
_START = re.compile(
    r'<([A-Za-z][A-Za-z0-9]*(?::[A-Za-z][A-Za-z0-9]*)?)((?:\s+[A-Za-z][A-Za-z0-9:]*="[^"<>\t\n\r]*")*)\s*(/?)>'
)
_ATTRIBUTE = re.compile(r'([A-Za-z][A-Za-z0-9:]*)="([^"]*)"')
_TEXT = re.compile(r"[^<]*")
_NAMED_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# Characters XML 1.0 allows (no C0 controls besides tab, LF, CR; no U+FFFE/U+FFFF).
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _NotPlain(Exception):
    """The part is not of the plain shape: openpyxl decides."""


@dataclass
class _Element:
    tag: str
    attributes: dict[str, str]
    children: list["_Element"]
    text: str


def _decoded(raw: str) -> str:
    """Text or an attribute value with the five named entities decoded; any other ``&`` is refused."""
    if "&" not in raw:
        return raw
    if "&" in _NAMED_ENTITY.sub("", raw):
        raise _NotPlain("a character reference or an undeclared entity")
    return _NAMED_ENTITY.sub(lambda m: _ENTITIES[m.group(1)], raw)


def _parse(part: bytes) -> _Element:
    """The part's element tree: elements, attributes and text only (XML that is well formed).

    Refused (``_NotPlain``): anything that is not UTF-8 without forbidden characters, a
    comment, CDATA, processing instruction or DOCTYPE, an XML declaration not at the very
    start, a repeated attribute, mixed content, "]]>" in text, an entity other than the
    five named ones (character references included).
    """
    try:
        text = part.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotPlain("not UTF-8") from exc
    if _NOT_XML_TEXT.search(text):
        raise _NotPlain("a character XML forbids")
    text = text.removeprefix("\ufeff")
    declaration = _DECLARATION.match(text)
    at = declaration.end() if declaration else 0
    stack: list[_Element] = []
    root: _Element | None = None
    while True:
        at = _skip_space(text, at)
        if at >= len(text):
            break
        if text.startswith("</", at):
            if not stack:
                raise _NotPlain("an end tag with no element open")
            end = text.find(">", at)
            if end < 0 or text[at + 2 : end].strip() != stack[-1].tag:
                raise _NotPlain("an end tag that does not match")
            stack.pop()
            at = end + 1
            continue
        if text.startswith("<", at):
            start = _START.match(text, at)
            if start is None:
                raise _NotPlain("markup other than elements")
            attributes: dict[str, str] = {}
            for name, value in _ATTRIBUTE.findall(start.group(2)):
                if name in attributes:
                    raise _NotPlain("a repeated attribute")
                attributes[name] = _decoded(value)
            element = _Element(start.group(1), attributes, [], "")
            if stack:
                if stack[-1].text:
                    raise _NotPlain("mixed content")
                stack[-1].children.append(element)
            elif root is None:
                root = element
            else:
                raise _NotPlain("a second root element")
            if not start.group(3):
                stack.append(element)
            at = start.end()
            continue
        if not stack:
            raise _NotPlain("text outside the root element")
        run = _TEXT.match(text, at)
        assert run is not None  # matches the empty string at least
        if stack[-1].children:
            raise _NotPlain("mixed content")
        if "]]>" in run.group(0):
            raise _NotPlain("']]>' in text")
        stack[-1].text = _decoded(run.group(0))
        at = run.end()
    if root is None or stack:
        raise _NotPlain("no root element, or one left open")
    return root


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


# ---- attribute types: each accepts a subset of what the openpyxl descriptor of that attribute accepts


def _pattern(expression: str) -> Callable[[str], bool]:
    compiled = re.compile(expression)
    return lambda value: compiled.fullmatch(value) is not None


_INT = _pattern(r"[0-9]{1,9}")
_FLOAT = _pattern(r"-?[0-9]{1,9}(?:\.[0-9]{1,17})?")
_BOOL = _pattern(r"0|1|true|false")
_RGB = _pattern(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{6}")
_CELL = _pattern(r"[A-Z]{1,3}[0-9]{1,7}")
_ANY = re.compile(r"[^\x00-\x1f]*").fullmatch  # any text (the five entities decoded)


def _one_of(*values: str) -> Callable[[str], bool]:
    return frozenset(values).__contains__


_TINT = _pattern(r"-?(?:0(?:\.[0-9]{1,17})?|1(?:\.0{1,17})?)")  # within [-1, 1]
_COLOR = {"rgb": _RGB, "indexed": _INT, "theme": _INT, "tint": _TINT, "auto": _BOOL}
_BORDER_STYLE = _one_of(
    *[
        "dashDot",
        "dashDotDot",
        "dashed",
        "dotted",
        "double",
        "hair",
        "medium",
        "mediumDashDot",
        "mediumDashDotDot",
        "mediumDashed",
    ],
    *["slantDashDot", "thick", "thin"],
)
_PATTERN_TYPE = _one_of(
    *[
        "none",
        "solid",
        "darkDown",
        "darkGray",
        "darkGrid",
        "darkHorizontal",
        "darkTrellis",
        "darkUp",
        "darkVertical",
        "gray0625",
    ],
    *[
        "gray125",
        "lightDown",
        "lightGray",
        "lightGrid",
        "lightHorizontal",
        "lightTrellis",
        "lightUp",
        "lightVertical",
        "mediumGray",
    ],
)
_PANE = _one_of("bottomRight", "topRight", "bottomLeft", "topLeft")


@dataclass(frozen=True)
class _Shape:
    """An element's attributes (name -> type) and children (tag -> shape); ``text``: holds text."""

    attributes: Mapping[str, Callable[[str], object]]
    children: Mapping[str, "_Shape"]
    text: bool = False
    required: frozenset[str] = frozenset()


def _shape(attributes=None, children=None, *, text=False, required=()) -> _Shape:
    return _Shape(attributes or {}, children or {}, text, frozenset(required))


def _check(element: _Element, shape: _Shape) -> None:
    """``element`` and everything in it of ``shape`` (every attribute value of its type), or ``_NotPlain``."""
    for name, value in element.attributes.items():
        accepts = shape.attributes.get(name)
        if accepts is None or not accepts(value):
            raise _NotPlain(f"attribute {name}={value!r} of <{element.tag}>")
    if not shape.required <= element.attributes.keys():
        raise _NotPlain(f"<{element.tag}> lacks an attribute it needs")
    if element.text and not shape.text:
        raise _NotPlain(f"text in <{element.tag}>")
    for child in element.children:
        child_shape = shape.children.get(child.tag)
        if child_shape is None:
            raise _NotPlain(f"<{child.tag}> in <{element.tag}>")
        _check(child, child_shape)


def _namespaces(**prefixes: str) -> dict[str, Callable[[str], bool]]:
    return {("xmlns" if prefix == "default" else f"xmlns:{prefix}"): _one_of(uri) for prefix, uri in prefixes.items()}


_COLOR_SHAPE = _shape(_COLOR)
_VALUE = {"val": _ANY}

_CONTENT_TYPES_SHAPE = _shape(
    _namespaces(default=_CONTENT_TYPES),
    {
        "Default": _shape({"Extension": _ANY, "ContentType": _ANY}, required=("Extension", "ContentType")),
        "Override": _shape({"PartName": _ANY, "ContentType": _ANY}, required=("PartName", "ContentType")),
    },
    required=("xmlns",),
)
_RELATIONSHIPS_SHAPE = _shape(
    _namespaces(default=_PACKAGE_RELATIONSHIPS),
    {"Relationship": _shape({"Type": _ANY, "Target": _ANY, "Id": _ANY}, required=("Type", "Target", "Id"))},
    required=("xmlns",),
)
_WORKBOOK_SHAPE = _shape(
    _namespaces(default=_MAIN, r=_RELATIONSHIPS),
    {
        "workbookPr": _shape({"date1904": _BOOL, "defaultThemeVersion": _INT}),
        "workbookProtection": _shape(),
        "bookViews": _shape(
            children={
                "workbookView": _shape(
                    {
                        "visibility": _one_of("visible", "hidden", "veryHidden"),
                        **dict.fromkeys(
                            ["minimized", "showHorizontalScroll", "showVerticalScroll", "showSheetTabs"], _BOOL
                        ),
                        "autoFilterDateGrouping": _BOOL,
                        **dict.fromkeys(
                            ["tabRatio", "firstSheet", "activeTab", "xWindow", "yWindow", "windowWidth"], _INT
                        ),
                        "windowHeight": _INT,
                    }
                )
            }
        ),
        "sheets": _shape(
            children={
                "sheet": _shape(
                    {
                        "name": _ANY,
                        "sheetId": _INT,
                        "state": _one_of("visible", "hidden", "veryHidden"),
                        "r:id": _ANY,
                    },
                    required=("name", "sheetId", "r:id"),
                )
            }
        ),
        "definedNames": _shape(),  # empty only: names are bound to sheets (and checked) by openpyxl
        "calcPr": _shape({"calcId": _INT, "fullCalcOnLoad": _BOOL}),
    },
    required=("xmlns", "xmlns:r"),  # the sheets' r:id needs its prefix bound
)
_FONT = _shape(
    children={
        "name": _shape(_VALUE, required=("val",)),
        "charset": _shape({"val": _INT}, required=("val",)),
        "family": _shape({"val": _one_of(*map(str, range(15)))}, required=("val",)),
        **{flag: _shape({"val": _BOOL}) for flag in ("b", "i", "strike", "outline", "shadow", "condense", "extend")},
        "color": _COLOR_SHAPE,
        "sz": _shape({"val": _FLOAT}, required=("val",)),
        "u": _shape({"val": _one_of("single", "double", "singleAccounting", "doubleAccounting")}, required=("val",)),
        "vertAlign": _shape({"val": _one_of("superscript", "subscript", "baseline")}, required=("val",)),
        "scheme": _shape({"val": _one_of("major", "minor")}, required=("val",)),
    }
)
_SIDE = _shape({"style": _BORDER_STYLE}, {"color": _COLOR_SHAPE})
_ALIGNMENT = _shape(
    {
        "horizontal": _one_of(
            "general", "left", "center", "right", "fill", "justify", "centerContinuous", "distributed"
        ),
        "vertical": _one_of("top", "center", "bottom", "justify", "distributed"),
        "wrapText": _BOOL,
        "shrinkToFit": _BOOL,
        "indent": _INT,
    }
)
_XF = _shape(
    {
        **dict.fromkeys(["numFmtId", "fontId", "fillId", "borderId", "xfId"], _INT),
        **dict.fromkeys(
            ["applyNumberFormat", "applyFont", "applyFill", "applyBorder", "applyAlignment", "applyProtection"], _BOOL
        ),
        "pivotButton": _BOOL,
        "quotePrefix": _BOOL,
    },
    {"alignment": _ALIGNMENT, "protection": _shape({"locked": _BOOL, "hidden": _BOOL})},
)
_STYLES_SHAPE = _shape(
    _namespaces(default=_MAIN),
    {
        "numFmts": _shape(
            {"count": _INT},
            {"numFmt": _shape({"numFmtId": _INT, "formatCode": _ANY}, required=("numFmtId", "formatCode"))},
        ),
        "fonts": _shape({"count": _INT}, {"font": _FONT}),
        "fills": _shape(
            {"count": _INT},
            {
                "fill": _shape(
                    children={
                        "patternFill": _shape(
                            {"patternType": _PATTERN_TYPE}, {"fgColor": _COLOR_SHAPE, "bgColor": _COLOR_SHAPE}
                        )
                    }
                )
            },
        ),
        "borders": _shape(
            {"count": _INT},
            {
                "border": _shape(
                    {"diagonalUp": _BOOL, "diagonalDown": _BOOL, "outline": _BOOL},
                    dict.fromkeys(["left", "right", "top", "bottom", "diagonal"], _SIDE),
                )
            },
        ),
        "cellStyleXfs": _shape({"count": _INT}, {"xf": _XF}),
        "cellXfs": _shape({"count": _INT}, {"xf": _XF}),
        "cellStyles": _shape(
            {"count": _INT},
            {
                "cellStyle": _shape(
                    {"name": _ANY, "xfId": _INT, "builtinId": _INT, "hidden": _BOOL}, required=("name", "xfId")
                )
            },
        ),
        "tableStyles": _shape({"count": _INT, "defaultTableStyle": _ANY, "defaultPivotStyle": _ANY}),
        "colors": _shape(
            children={"indexedColors": _shape(children={"rgbColor": _shape({"rgb": _RGB}, required=("rgb",))})}
        ),
    },
    required=("xmlns",),
)
_W3CDTF = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TEXT_PROPERTY = _shape(text=True)
_DATE_PROPERTY = _shape({"xsi:type": _one_of("dcterms:W3CDTF")}, text=True)
_CORE_SHAPE = _shape(
    _namespaces(
        cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
        dc="http://purl.org/dc/elements/1.1/",
        dcterms="http://purl.org/dc/terms/",
        xsi="http://www.w3.org/2001/XMLSchema-instance",
    ),
    {
        **dict.fromkeys(["dc:creator", "dc:title", "dc:subject", "dc:description", "dc:language"], _TEXT_PROPERTY),
        **dict.fromkeys(["cp:keywords", "cp:category", "cp:lastModifiedBy", "cp:contentStatus"], _TEXT_PROPERTY),
        **dict.fromkeys(["dcterms:created", "dcterms:modified"], _DATE_PROPERTY),
    },
    required=("xmlns:cp", "xmlns:dc", "xmlns:dcterms", "xmlns:xsi"),
)
# A worksheet around its cells (the sheet data replaced by an empty <sheetData/>).
_SELECTION = _shape({"pane": _PANE, "activeCell": _CELL, "sqref": _CELL})
_WORKSHEET_SHAPE = _shape(
    _namespaces(default=_MAIN, r=_RELATIONSHIPS),
    {
        "sheetPr": _shape(
            children={
                "outlinePr": _shape({"summaryBelow": _BOOL, "summaryRight": _BOOL}),
                "pageSetUpPr": _shape({"fitToPage": _BOOL, "autoPageBreaks": _BOOL}),
                "tabColor": _COLOR_SHAPE,
            }
        ),
        "dimension": _shape({"ref": _ANY}, required=("ref",)),
        "sheetViews": _shape(
            children={
                "sheetView": _shape(
                    {"workbookViewId": _INT, "tabSelected": _BOOL, "showGridLines": _BOOL, "zoomScale": _INT},
                    {
                        "pane": _shape(
                            {
                                "xSplit": _FLOAT,
                                "ySplit": _FLOAT,
                                "topLeftCell": _CELL,
                                "activePane": _PANE,
                                "state": _one_of("split", "frozen", "frozenSplit"),
                            }
                        ),
                        "selection": _SELECTION,
                    },
                    required=("workbookViewId",),
                )
            }
        ),
        "sheetFormatPr": _shape(
            {"baseColWidth": _INT, "defaultColWidth": _FLOAT, "defaultRowHeight": _FLOAT, "customHeight": _BOOL},
            required=("defaultRowHeight",),
        ),
        "cols": _shape(
            children={
                "col": _shape(
                    {"min": _INT, "max": _INT, "width": _FLOAT, "customWidth": _BOOL, "style": _INT, "hidden": _BOOL},
                    required=("min", "max"),
                )
            }
        ),
        "sheetData": _shape(),
        "mergeCells": _shape({"count": _INT}, {"mergeCell": _shape({"ref": _ANY}, required=("ref",))}),
        "pageMargins": _shape(dict.fromkeys(["left", "right", "top", "bottom", "header", "footer"], _FLOAT)),
    },
    required=("xmlns",),
)
_REFERENCE = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


def _cell(reference: str) -> tuple[int, int]:
    """(column, row) of a cell reference, or ``_NotPlain`` beyond Excel's limits."""
    found = _REFERENCE.fullmatch(reference)
    if found is None:
        raise _NotPlain(f"cell reference {reference!r}")
    column = 0
    for letter in found.group(1):
        column = column * 26 + ord(letter) - ord("A") + 1
    row = int(found.group(2))
    if not (1 <= column <= MAX_COLUMNS and 1 <= row <= MAX_ROWS):
        raise _NotPlain(f"cell reference {reference!r} beyond the sheet")
    return column, row


def _range(reference: str) -> tuple[int, int, int, int]:
    """(min column, min row, max column, max row) of "A1" or "A1:H20" (first corner top left)."""
    first, _, last = reference.partition(":")
    min_col, min_row = _cell(first)
    max_col, max_row = _cell(last) if last else (min_col, min_row)
    if max_col < min_col or max_row < min_row:
        raise _NotPlain(f"range {reference!r}")
    return min_col, min_row, max_col, max_row


# ---- number formats, as openpyxl tells dates (openpyxl.styles.numbers; the tests compare the two)

_BUILTIN_FORMATS = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    5: '"$"#,##0_);("$"#,##0)',
    6: '"$"#,##0_);[Red]("$"#,##0)',
    7: '"$"#,##0.00_);("$"#,##0.00)',
    8: '"$"#,##0.00_);[Red]("$"#,##0.00)',
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    14: "mm-dd-yy",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: "m/d/yy h:mm",
    37: "#,##0_);(#,##0)",
    38: "#,##0_);[Red](#,##0)",
    39: "#,##0.00_);(#,##0.00)",
    40: "#,##0.00_);[Red](#,##0.00)",
    41: r'_(* #,##0_);_(* \(#,##0\);_(* "-"_);_(@_)',
    42: r'_("$"* #,##0_);_("$"* \(#,##0\);_("$"* "-"_);_(@_)',
    43: r'_(* #,##0.00_);_(* \(#,##0.00\);_(* "-"??_);_(@_)',
    44: r'_("$"* #,##0.00_)_("$"* \(#,##0.00\)_("$"* "-"??_)_(@_)',
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mmss.0",
    48: "##0.0E+0",
    49: "@",
}
_STRIP = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_LETTER = re.compile(r"(?<![_\\])[dmhysDMHYS]")


def is_date_format(code: str | None) -> bool:
    """openpyxl's ``is_date_format``: the first section, quoted text and locales left out, names
    a day, month, hour, year or second."""
    if code is None:
        return False
    return _DATE_LETTER.search(_STRIP.sub("", code.split(";")[0])) is not None


def _date_styles(styles: _Element) -> set[int]:
    """The cell formats (``cellXfs`` positions) openpyxl reads as dates; ``_NotPlain`` where it
    would refuse the style sheet or fall back on its own defaults."""
    _check(styles, _STYLES_SHAPE)
    parts = {child.tag: child for child in styles.children}
    if len(parts) != len(styles.children):
        raise _NotPlain("a repeated element of the style sheet")
    formats = parts.get("numFmts")
    custom = {int(f.attributes["numFmtId"]): f.attributes["formatCode"] for f in (formats.children if formats else [])}
    counts = {tag: len(parts[tag].children) if tag in parts else 0 for tag in ("fonts", "fills", "borders")}
    named_xfs = parts["cellStyleXfs"].children if "cellStyleXfs" in parts else []
    cell_xfs = parts["cellXfs"].children if "cellXfs" in parts else []
    cell_styles = parts["cellStyles"].children if "cellStyles" in parts else []
    if not cell_xfs or not cell_styles:
        raise _NotPlain("no cell formats or named styles: openpyxl uses its defaults")
    for xf in named_xfs + cell_xfs:  # each font, fill and border a format names must be there
        for key, count in (("fontId", counts["fonts"]), ("fillId", counts["fills"]), ("borderId", counts["borders"])):
            if int(xf.attributes.get(key, "0")) >= count:
                raise _NotPlain(f"{key} beyond the style sheet's list")
    for fill in parts["fills"].children if "fills" in parts else []:
        if len(fill.children) != 1:
            raise _NotPlain("a fill without its one pattern")
    for style in cell_styles:
        if int(style.attributes["xfId"]) >= len(named_xfs):
            raise _NotPlain("a named style with no format")
    dates = set()
    for position, xf in enumerate(cell_xfs):
        number_format = int(xf.attributes.get("numFmtId", "0"))
        code = custom[number_format] if number_format in custom else _BUILTIN_FORMATS.get(number_format)
        if is_date_format(code):
            dates.add(position)
    return dates


# ---- the package


def _resolved(rels_path: str, target: str) -> str:
    """A relationship's target as openpyxl resolves it (``get_dependents``)."""
    if target.startswith("/"):
        return target[1:]
    parent = posixpath.split(posixpath.dirname(rels_path))[0]
    return posixpath.normpath(posixpath.join(parent, target))


# Parts openpyxl does not read (app properties, package relationships) or reads as bytes (the theme).
_UNREAD = re.compile(r"docProps/app\.xml|_rels/\.rels|xl/theme/theme[0-9]+\.xml")


def plain_view(
    data: bytes, sheet: str | None, *, max_sheet_bytes: int, cells_well_formed: Callable[[bytes, bytes], bool]
) -> tuple[View, bytes] | None:
    """openpyxl's view of the workbook (``xlsx_files._openpyxl_view``) for a package of the plain
    shape, and the chosen sheet's XML, checked around its cells as openpyxl's parse of it would
    accept it (the cells themselves are the caller's to check); None where the package is not
    of that shape, the sheet is not there (openpyxl is asked then, and says why) or its XML is
    over ``max_sheet_bytes``. ``cells_well_formed(xml, sheet_data)`` checks the cells of the
    workbook's other sheets (openpyxl reads each sheet's dimension as it opens a workbook).
    """
    try:
        return _plain_view(data, sheet, max_sheet_bytes, cells_well_formed)
    except (_NotPlain, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, RuntimeError):
        return None


def _cells_span(xml: bytes) -> tuple[int, int]:
    """Where a sheet's ``<sheetData>...</sheetData>`` starts and ends (``_NotPlain`` without one)."""
    start, end = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
    if start < 0 or end < 0:
        raise _NotPlain("no sheet data")
    return start, end + len(b"</sheetData>")


def _without_cells(xml: bytes) -> bytes:
    start, stop = _cells_span(xml)
    return xml[:start] + b"<sheetData/>" + xml[stop:]


def _plain_view(
    data: bytes, sheet: str | None, max_sheet_bytes: int, cells_well_formed: Callable[[bytes, bytes], bool]
) -> tuple[View, bytes] | None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if len(set(names)) != len(names):
            raise _NotPlain("a part twice in the archive")
        manifest = _parse(archive.read("[Content_Types].xml"))
        if manifest.tag != "Types":
            raise _NotPlain("not a content types part")
        _check(manifest, _CONTENT_TYPES_SHAPE)
        types = [child.attributes["ContentType"] for child in manifest.children]
        overrides = {
            c.attributes["PartName"]: c.attributes["ContentType"]
            for c in manifest.children
            if "PartName" in c.attributes
        }
        if (
            [name for name, kind in overrides.items() if kind == _WORKBOOK_TYPE] != ["/xl/workbook.xml"]
            or _OTHER_WORKBOOK_TYPES & set(types)
            or _SHARED_STRINGS_TYPE in types
        ):
            raise _NotPlain("not the plain workbook part, or shared strings")
        workbook = _parse(archive.read("xl/workbook.xml"))
        if workbook.tag != "workbook":
            raise _NotPlain("not a workbook")
        _check(workbook, _WORKBOOK_SHAPE)
        if len({child.tag for child in workbook.children}) != len(workbook.children):
            raise _NotPlain("a repeated element of the workbook")
        for child in workbook.children:
            if child.tag == "definedNames" and child.children:
                raise _NotPlain("defined names")
        rels_path = "xl/_rels/workbook.xml.rels"
        rels = _parse(archive.read(rels_path))
        if rels.tag != "Relationships":
            raise _NotPlain("not relationships")
        _check(rels, _RELATIONSHIPS_SHAPE)
        by_id: dict[str, tuple[str, str]] = {}
        for rel in rels.children:
            kind, rel_id = rel.attributes["Type"], rel.attributes["Id"]
            if kind not in _KNOWN_RELS or rel_id in by_id:
                raise _NotPlain("a relationship of another kind, or an id twice")
            by_id[rel_id] = (kind, _resolved(rels_path, rel.attributes["Target"]))
        sheets: list[tuple[str, str]] = []  # (title, part) in the workbook's order
        for listed in (c for c in workbook.children if c.tag == "sheets"):
            for entry in listed.children:
                kind, part = by_id[entry.attributes["r:id"]]
                if kind != _WORKSHEET_REL or part not in names:
                    raise _NotPlain("a sheet that is not a worksheet in the package")
                sheets.append((entry.attributes["name"], part))
        if not sheets or len({part for _, part in sheets}) != len(sheets):
            raise _NotPlain("no sheet, or two naming one part")
        # Every part in the archive: one openpyxl reads and this module checks, or one it does not read.
        checked = {"[Content_Types].xml", "xl/workbook.xml", rels_path, "xl/styles.xml", "docProps/core.xml"}
        checked |= {part for _, part in sheets}
        if any(name not in checked and not _UNREAD.fullmatch(name) for name in names):
            raise _NotPlain("a part openpyxl would read that is not checked here")
        date_styles = _date_styles(_parse(archive.read("xl/styles.xml")))
        if "docProps/core.xml" in names:
            _check_core(_parse(archive.read("docProps/core.xml")))
        if sheet is None:
            title, part = sheets[0]
        else:
            found = [entry for entry in sheets if entry[0] == sheet]
            if not found:
                return None  # openpyxl names the sheets it has
            title, part = found[0]
        # openpyxl reads every sheet's dimension as it opens the workbook: each other sheet
        # (a small cover sheet, say) is checked whole, cells included.
        for _, other in sheets:
            if other != part:
                _check_whole_sheet(archive.read(other), cells_well_formed)
        if archive.getinfo(part).file_size > max_sheet_bytes:
            raise _NotPlain("a sheet too large to hold in memory")
        xml = archive.read(part)
    dimension = _check_worksheet_around(_without_cells(xml))
    max_col, max_row = (dimension[2], dimension[3]) if dimension else (None, None)
    return (title, part, date_styles, max_col, max_row, 0), xml


def _check_core(core: _Element) -> None:
    if core.tag != "cp:coreProperties":
        raise _NotPlain("not core properties")
    _check(core, _CORE_SHAPE)
    for child in core.children:
        if child.tag.startswith("dcterms:"):
            if _W3CDTF.fullmatch(child.text) is None:
                raise _NotPlain("a date of another form")
            dt.datetime.strptime(child.text, "%Y-%m-%dT%H:%M:%SZ")  # ValueError: not a date


def _check_worksheet_around(around: bytes) -> tuple[int, int, int, int] | None:
    """Check a worksheet without its cells (``<sheetData/>`` in their place) as openpyxl's parse
    would accept it; the range its dimension declares (None: none)."""
    root = _parse(around)
    if root.tag != "worksheet":
        raise _NotPlain("not a worksheet")
    _check(root, _WORKSHEET_SHAPE)
    tags = [child.tag for child in root.children]
    if tags.count("sheetData") != 1 or len(set(tags)) != len(tags):
        raise _NotPlain("a repeated element, or no sheet data")
    dimension = None
    for child in root.children:
        if child.tag == "dimension":
            dimension = _range(child.attributes["ref"])
        elif child.tag == "cols":
            for column in child.children:
                if not 1 <= int(column.attributes["min"]) <= int(column.attributes["max"]) <= MAX_COLUMNS:
                    raise _NotPlain("a column range")
        elif child.tag == "mergeCells":
            for merged in child.children:
                _range(merged.attributes["ref"])
    return dimension


def _check_whole_sheet(xml: bytes, cells_well_formed: Callable[[bytes, bytes], bool]) -> None:
    """Another sheet of the workbook, small, checked whole (its cells by ``cells_well_formed``)."""
    if len(xml) > _SMALL_SHEET:
        raise _NotPlain("another sheet too large to check here")
    start, stop = _cells_span(xml)
    if not cells_well_formed(xml, xml[start:stop]):
        raise _NotPlain("cells of another shape")
    _check_worksheet_around(xml[:start] + b"<sheetData/>" + xml[stop:])
