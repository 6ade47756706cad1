"""The taxonomy: classification rules, custom taxonomies, and their sync into the database."""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogues import classify
from catalogues.classify import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy
from procurement.importers import import_catalogue

# component/description/brand text as it appears in supplier price lists -> group
EXAMPLES = {
    "HIP-STEM-UNC": ["Uncemented HA stem", "Femoral stem, cementless, size 12", "Corail stem hydroxyapatite"],
    "HIP-STEM-CEM": ["Cemented femoral stem size 3", "Exeter V40 stem 44mm offset cemented"],
    "HIP-SHELL-UNC": ["Acetabular shell 54mm", "Acetabular cup uncemented porous 52mm"],
    "HIP-CUP-CEM": ["Cemented all-poly cup 50mm", "Contemporary cup cemented 44mm"],
    "HIP-LINER-PE": ["Acetabular liner XLPE neutral 32/52", "Liner poly 10 deg"],
    "HIP-LINER-CER": ["Ceramic liner 36mm Biolox delta", "Acetabular liner ceramic"],
    "HIP-HEAD-CER": ["Ceramic femoral head 32mm", "Head 36mm Biolox delta"],
    "HIP-HEAD-MET": ["Femoral head CoCr 28mm +3.5", "Metal head stainless 22.225"],
    "KNEE-FEM-PS": ["Femoral component PS size 5 left", "Femoral posterior stabilised component"],
    "KNEE-FEM-CR": ["Femoral component CR size 4 right", "Cruciate retaining femoral component"],
    "KNEE-TRAY": ["Tibial tray cemented size 3", "Tibial baseplate fixed bearing 4"],
    "KNEE-INSERT-PS": ["Tibial insert PS 10mm", "Fixed bearing insert posterior-stabilised 12mm"],
    "KNEE-INSERT-CR": ["Tibial insert CR 9mm", "Bearing insert cruciate retaining 11mm"],
    "KNEE-PATELLA": ["Patella button 3-peg 35mm", "All-poly patella"],
    "TRAUMA-SHS": ["Sliding hip screw 135deg", "DHS lag screw 90mm", "Dynamic hip screw plate 4 hole"],
    "TRAUMA-NAIL-PF-LONG": ["Proximal femoral nail long 380mm", "Gamma3 long nail 11mm"],
    "TRAUMA-NAIL-PF-SHORT": ["Trochanteric nail 180mm", "Proximal femoral nail short 11x170"],
    "TRAUMA-HEMI": ["Bipolar head 45mm", "Unipolar hemiarthroplasty head 47mm", "Hemi stem Thompson"],
    "TRAUMA-PLATE-LOCK": ["Locking plate distal radius", "LCP plate 3.5 locking 8 hole"],
    "TRAUMA-SCREW-CORT": ["Cortical screw 3.5 x 20", "Locking screw 5.0 x 40 self-tapping"],
}


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(DEFAULT_TAXONOMY)


def test_the_shipped_taxonomy_has_three_categories_and_twenty_groups(taxonomy):
    assert taxonomy.categories["code"].tolist() == ["hip", "knee", "trauma"]
    assert taxonomy.categories.set_index("code")["odep_applies"].to_dict() == {
        "hip": True,
        "knee": True,
        "trauma": False,
    }
    assert len(taxonomy.groups) == 20
    assert set(taxonomy.groups["code"]) == set(EXAMPLES)


EXAMPLES_FLAT = [t for texts in EXAMPLES.values() for t in texts]


@pytest.mark.parametrize(("group", "text"), [(g, t) for g, texts in EXAMPLES.items() for t in texts])
def test_representative_descriptions_classify_into_their_group(taxonomy, group, text):
    assert taxonomy.classify(pd.Series([text])).iloc[0] == group


def test_classification_is_vectorised_case_insensitive_and_keeps_the_index(taxonomy):
    texts = pd.Series(["CEMENTED FEMORAL STEM", "Widget, blue", None, "Tibial Insert PS 10mm"], index=[7, 3, 5, 1])
    result = taxonomy.classify(texts)
    assert result.index.tolist() == [7, 3, 5, 1]
    assert result.tolist() == ["HIP-STEM-CEM", None, None, "KNEE-INSERT-PS"]


def _first_rule_one_by_one(taxonomy, texts: pd.Series) -> list:
    """The reference: each lower-cased text searched by every rule in file order."""
    found = []
    for text in texts.fillna("").astype(str).str.lower():
        found.append(
            next(
                (
                    r.code
                    for r in taxonomy.rules
                    if all(p.search(text) for p in r.include) and not any(p.search(text) for p in r.exclude)
                ),
                None,
            )
        )
    return found


def test_each_text_gets_the_first_rule_it_meets_in_file_order_repeats_included(taxonomy):
    """The group of a text is the first rule whose includes all match and excludes none."""
    texts = pd.Series(list(EXAMPLES_FLAT) * 3 + ["hemi stem cemented", "uncemented cemented stem", None, ""])
    assert taxonomy.classify(texts).tolist() == _first_rule_one_by_one(taxonomy, texts)


@pytest.mark.parametrize("text", ["Surgical gown, large", "Bone cement 40g", "Drape pack", ""])
def test_text_matching_no_group_gives_none(taxonomy, text):
    assert taxonomy.classify(pd.Series([text])).iloc[0] is None


SPINAL = """
[categories.hip]
name = "Primary hip"
odep_applies = true

[categories.spinal]
name = "Spinal fixation"

[[groups]]
code = "HIP-STEM-CEM"
category = "hip"
name = "Femoral stem, cemented"
include = ['\\bstem\\b', 'cemented']
exclude = ['uncemented']

[[groups]]
code = "SPINE-SCREW-PEDICLE"
category = "spinal"
name = "Pedicle screw"
include = ['pedicle', 'screw']

[[groups]]
code = "SPINE-CAGE"
category = "spinal"
name = "Interbody cage"
include = ['cage|interbody']
"""


def test_a_custom_taxonomy_adds_a_category_without_code_changes(tmp_path):
    path = tmp_path / "taxonomy.toml"
    path.write_text(SPINAL, encoding="utf-8")
    spinal = load_taxonomy(path)
    assert spinal.categories["code"].tolist() == ["hip", "spinal"]
    assert spinal.categories.set_index("code")["odep_applies"].to_dict() == {"hip": True, "spinal": False}
    result = spinal.classify(
        pd.Series(["Polyaxial pedicle screw 6.5x45", "PEEK interbody cage 10mm", "Cemented stem", "Cortical screw 3.5"])
    )
    assert result.tolist() == ["SPINE-SCREW-PEDICLE", "SPINE-CAGE", "HIP-STEM-CEM", None]


def test_the_taxonomy_file_can_be_named_by_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "spinal.toml"
    path.write_text(SPINAL, encoding="utf-8")
    monkeypatch.setenv("PROCURE_TAXONOMY", str(path))
    assert "SPINE-CAGE" in load_taxonomy().groups["code"].tolist()


def test_a_spinal_catalogue_is_classified_and_synced_into_the_database(region, files, gtin, rows, tmp_path):
    path = tmp_path / "spinal.toml"
    path.write_text(SPINAL, encoding="utf-8")
    catalogue = files.catalogue(
        "spine.csv",
        [
            ("S-1", gtin("5098765", 1), "Polyaxial pedicle screw 6.5x45", "Solera", "45", "1", "310.00"),
            ("S-2", gtin("5098765", 2), "Polyaxial pedicle screw 6.5x50", "Solera", "50", "1", "310.00"),
            ("S-3", gtin("5098765", 3), "PEEK interbody cage 10mm", "Capstone", "10", "1", "890.00"),
            ("S-4", gtin("5098765", 4), "Tibial tray", "Vanguard", "3", "1", "500.00"),
        ],
    )
    report = import_catalogue(
        region, catalogue, supplier="SUP-B", profile=str(files.profile()), taxonomy=load_taxonomy(path)
    )
    assert (report.rows_read, report.rows_accepted, report.rows_rejected, report.new_lines) == (4, 3, 1, 2)
    # Under this taxonomy a tibial tray is unclassified.
    assert report.rejects[["row", "column"]].values.tolist() == [[8, "Description"]]
    categories = rows(region, "SELECT code, name, odep_applies FROM category ORDER BY code")
    assert {"code": "spinal", "name": "Spinal fixation", "odep_applies": 0} in categories
    groups = rows(
        region,
        "SELECT g.code, c.code AS category FROM equivalencegroup g JOIN category c ON c.id = g.category_id "
        "WHERE c.code = 'spinal' ORDER BY g.code",
    )
    assert groups == [
        {"code": "SPINE-CAGE", "category": "spinal"},
        {"code": "SPINE-SCREW-PEDICLE", "category": "spinal"},
    ]
    lines = rows(
        region,
        "SELECT p.code, p.brand, g.code AS grp FROM productline p JOIN equivalencegroup g ON g.id = p.group_id "
        "ORDER BY p.code",
    )
    assert lines == [
        {"code": "SUP-B:SPINE-CAGE:CAPSTONE", "brand": "Capstone", "grp": "SPINE-CAGE"},
        {"code": "SUP-B:SPINE-SCREW-PEDICLE:SOLERA", "brand": "Solera", "grp": "SPINE-SCREW-PEDICLE"},
    ]


BAD_TAXONOMIES = {
    "not TOML": ("[categories.hip\n", "cannot be read"),
    "no categories": ("version = 1\n", r"no \[categories\.\*\] tables"),
    "no groups": ("[categories.hip]\nname = 'Hip'\n", r"no \[\[groups\]\]"),
    "unknown category": (
        "[categories.hip]\n[[groups]]\ncode = 'X'\ncategory = 'spine'\ninclude = ['x']\n",
        "group X names unknown category 'spine'",
    ),
    "repeated code": (
        "[categories.hip]\n[[groups]]\ncode = 'X'\ncategory = 'hip'\ninclude = ['x']\n"
        "[[groups]]\ncode = 'X'\ncategory = 'hip'\ninclude = ['y']\n",
        "group 2 has a missing or repeated code",
    ),
    "missing code": (
        "[categories.hip]\n[[groups]]\ncategory = 'hip'\ninclude = ['x']\n",
        "group 1 has a missing or repeated code",
    ),
    "bad pattern": (
        "[categories.hip]\n[[groups]]\ncode = 'X'\ncategory = 'hip'\ninclude = ['(unclosed']\n",
        "group X: bad pattern",
    ),
    "no include": (
        "[categories.hip]\n[[groups]]\ncode = 'X'\ncategory = 'hip'\nexclude = ['x']\n",
        "group X has no include pattern",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TAXONOMIES))
def test_bad_taxonomy_files_raise_taxonomy_error(tmp_path, case):
    text, message = BAD_TAXONOMIES[case]
    path = tmp_path / "taxonomy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)


def test_a_missing_taxonomy_file_raises_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot be read"):
        load_taxonomy(tmp_path / "nowhere.toml")


# Patterns with literals in every position the parser can put them: runs, alternations
# (with a common prefix the parser factors out), optional and repeated parts, groups,
# classes, anchors, lookarounds and case-insensitive parts.
PATTERNS = [
    r"\bstem\b",
    r"hip screw|hip nail",
    r"a|b",
    r"press[- ]?fit",
    r"(?:ab)+c",
    r"(?:ab)*c",
    r"x?",
    r"(?i:STEM)",
    r"(?i)stem",
    r"acetabular cup.*(uncemented|porous)",
    r"(?<!un)cemented",
    r"(?=ste)stem|cup",
    r"[^a]+b",
    r"(a)\1",
    r"^cup$",
    r"\d+ ?mm",
    r"(?>ab|a)b",
    r"ste{2,}m",
]
TEXTS = st.text(alphabet="abcemnpstuSTEM1 -", max_size=20)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(TEXTS, max_size=20))
def test_searching_only_texts_with_the_required_words_finds_what_searching_all_finds(pattern, texts):
    compiled = re.compile(pattern)
    every = [compiled.search(t) is not None for t in texts]
    assert classify._searched(compiled, np.array(texts, dtype=object)).tolist() == every


def test_the_required_words_of_a_pattern():
    assert classify.required_text(re.compile(r"\bstem\b")) == {"stem"}
    assert classify.required_text(re.compile(r"uncemented|press[- ]?fit|\bha\b")) == {"uncemented", "press", "ha"}
    assert classify.required_text(re.compile(r"acetabular cup.*(uncemented|porous)")) == {"acetabular cup"}
    # Nothing is required of an optional part, a class or a case-insensitive pattern.
    for pattern in (r"(?:stem)?", r"a|b", r"(?i)stem", r"(?i:stem)", r"\d+"):
        assert classify.required_text(re.compile(pattern)) is None


WORDS = sorted({w for texts in EXAMPLES.values() for text in texts for w in text.lower().split()})
DESCRIPTIONS = st.lists(
    st.one_of(st.sampled_from(WORDS), st.from_regex(r"[0-9]{1,3}(\.[0-9])?(mm)?", fullmatch=True)), max_size=8
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(DESCRIPTIONS, min_size=1, max_size=30))
def test_texts_differing_only_in_digits_are_classified_once_and_alike(texts):
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    assert taxonomy.reads_digits_alike  # the shipped rules name no digit
    series = pd.Series(texts + [t.replace("1", "7") for t in texts])
    assert taxonomy.classify(series).tolist() == _first_rule_one_by_one(taxonomy, series)


def test_a_taxonomy_whose_rules_tell_digits_apart_classifies_each_text_itself(tmp_path):
    path = tmp_path / "sizes.toml"
    path.write_text(
        '[categories.hip]\nname = "Hips"\n\n'
        '[[groups]]\ncode = "SMALL-STEM"\ncategory = "hip"\ninclude = ["stem", "size [1-3]\\\\b"]\n\n'
        '[[groups]]\ncode = "STEM"\ncategory = "hip"\ninclude = ["stem"]\n',
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(path)
    assert not taxonomy.reads_digits_alike
    texts = pd.Series(["Stem size 2", "Stem size 7", "Stem size 20", "stem\x00size 1"])
    assert taxonomy.classify(texts).tolist() == ["SMALL-STEM", "STEM", "STEM", "SMALL-STEM"]
    assert taxonomy.classify(texts).tolist() == _first_rule_one_by_one(taxonomy, texts)


@pytest.mark.parametrize(
    ("pattern", "alike"),
    [
        (r"\bstem\b", True),
        (r"acetabular cup.*(uncemented|porous)", True),
        (r"\d+ ?mm|[0-9]+|[^\W]|\D|(?=\d)x|(?i:ab)", True),
        (r"size 1", False),  # a literal digit
        (r"[0-4]", False),  # some digits, not all
        (r"[^5]", False),
        (r"(\d)\1", False),  # a backreference compares two digits
    ],
)
def test_which_patterns_treat_every_digit_alike(pattern, alike):
    assert classify.digits_alike(re.compile(pattern)) is alike


def test_texts_with_a_nul_or_lone_surrogate_keep_their_digits_or_go_one_by_one():
    assert classify._digits_as_zero(["size 12", "head 3.5"]) == ["size 00", "head 0.0"]
    assert classify._digits_as_zero(["a\x00b", "c"]) is None
    assert classify._digits_as_zero(["bad \udcff 9"]) == ["bad \udcff 0"]


def test_texts_are_lowered_and_shaped_in_one_pass_where_they_are_ascii_text():
    assert classify._lowered_shapes(["Stem SIZE 12", "HEAD 3.5"]) == ["stem size 00", "head 0.0"]
    assert classify._lowered_shapes(["Stem\x00 12", "head"]) is None  # a NUL: each text on its own
    assert classify._lowered_shapes(["STEM", None]) is None  # a missing value: cleaned as before
    # Not ASCII: each text lower-cased on its own (a final capital sigma becomes "ς").
    assert classify._lowered_shapes(["ΟΔΟΣ 12", "Cup Ø50"]) == ["οδος 00", "cup ø00"]


@pytest.mark.parametrize(
    "texts",
    [
        ["CEMENTED FEMORAL STEM 12", "Cemented femoral stem 13", "Tibial Insert PS 10mm", "widget"],
        ["STEM\x00CEMENTED 1", "stem cemented 2", None, ""],
        ["ΣΤΕΜ cemented stem 12", "Uncemented Stem Ø 9", "cup ΟΔΟΣ 3"],
    ],
)
def test_every_path_of_classification_gives_the_reference_groups(taxonomy, texts):
    series = pd.Series(texts, index=range(10, 10 + len(texts)))
    result = taxonomy.classify(series)
    assert result.index.tolist() == series.index.tolist()
    assert result.tolist() == _first_rule_one_by_one(taxonomy, series)
