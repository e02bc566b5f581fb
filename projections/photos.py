"""``photos``: which items refer to which photo (``photo:<sha256>.<ext>`` in a description
or in evidence), so a photo is shown only to those who may see one of its items."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.hazard import Hazard
from projections.base import Item, Projection
from projections.store import Cursor, ViewStore

#: how findings and submissions refer to a stored photo
PHOTO_REFERENCE = re.compile(r"photo:([0-9a-f]{64})\.(jpg|png|webp)")


def photo_names(text: str) -> list[str]:
    """Photo file names (``<sha256>.<ext>``) referred to in a text."""
    return [f"{m.group(1)}.{m.group(2)}" for m in PHOTO_REFERENCE.finditer(text)]


class Photos(Projection):
    name = "photos"
    tables = ("photo_refs",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS photo_refs ("
            " photo TEXT NOT NULL, hazard_id TEXT NOT NULL, PRIMARY KEY (photo, hazard_id))"
        ]

    def apply(self, cur: Cursor, items: Sequence[Item]) -> None:
        rows: set[tuple[str, str]] = set()
        for _, e in items:
            if isinstance(e, Hazard.Reported):
                texts = [e.description]
            elif isinstance(e, Hazard.RectificationSubmitted):
                texts = list(e.evidence)
            else:
                continue
            for text in texts:
                rows.update((name, str(e.originator_id)) for name in photo_names(text))
        if rows:
            cur.executemany(
                "INSERT INTO photo_refs (photo, hazard_id) VALUES (?, ?)"
                " ON CONFLICT (photo, hazard_id) DO NOTHING",
                sorted(rows),
            )


def items_showing(store: ViewStore, name: str) -> list[str]:
    """Ids of the items that refer to a photo."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT hazard_id FROM photo_refs WHERE photo = ? ORDER BY hazard_id", (name,)
        ).fetchall()
    return [r["hazard_id"] for r in rows]
