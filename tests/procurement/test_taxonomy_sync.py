"""procurement.reference: the taxonomy's sync into the database."""

import dataclasses

from sqlalchemy import event, select
from sqlmodel import Session

from catalogues.classify import load_taxonomy
from procurement.models import Category, EquivalenceGroup
from procurement.reference import sync_taxonomy


def stored(engine) -> tuple[set, set]:
    with Session(engine) as session:
        categories = {tuple(r) for r in session.execute(select(Category.code, Category.name, Category.odep_applies))}
        groups = {
            tuple(r)
            for r in session.execute(
                select(EquivalenceGroup.code, EquivalenceGroup.name, Category.code).join(
                    Category, Category.id == EquivalenceGroup.category_id
                )
            )
        }
    return categories, groups


def test_the_taxonomy_is_stored_once_and_changed_names_are_updated(engine):
    taxonomy = load_taxonomy()
    with Session(engine) as session:
        sync_taxonomy(session, taxonomy)
        session.commit()
    categories, groups = stored(engine)
    assert ("hip", "Primary hip arthroplasty", True) in categories
    assert len(groups) == len(taxonomy.rules)

    # Unchanged: nothing is written (no INSERT, UPDATE or lock).
    writes: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: writes.append(args[2]))
    with Session(engine) as session:
        sync_taxonomy(session, taxonomy)
        session.commit()
    assert [sql for sql in writes if not sql.lstrip().upper().startswith("SELECT")] == []

    # A renamed group, a renamed category and a changed ODEP flag are updated.
    first = dataclasses.replace(taxonomy.rules[0], name="Stem, uncemented (renamed)")
    categories_frame = taxonomy.categories.copy()
    categories_frame.loc[categories_frame["code"] == "knee", ["name", "odep_applies"]] = ["Knee (renamed)", False]
    changed = dataclasses.replace(taxonomy, rules=(first, *taxonomy.rules[1:]), categories=categories_frame)
    with Session(engine) as session:
        sync_taxonomy(session, changed)
        session.commit()
    categories, groups = stored(engine)
    assert ("knee", "Knee (renamed)", False) in categories
    assert (first.code, "Stem, uncemented (renamed)", first.category) in groups
