"""Loading pre-shift checklist templates from YAML (``safeloop checklists load``).

The file holds a list of templates, each ``{code, name, work_face_type, items, work_faces}``
(see examples/checklists.yaml). A template whose definition changed gets a new version; the
old versions stay on record (the runs name the version they were made with).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from safeloop.system import System


def read_templates(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(data, dict):
        data = data.get("templates", [])
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise ValueError("the file must hold a list of templates")
    return data


def load_templates(system: System, path: Path, *, actor: str) -> list[tuple[str, str, bool]]:
    """(code, version, changed) per template in the file."""
    results = []
    for template in read_templates(path):
        code = str(template.get("code") or "")
        definition = {k: v for k, v in template.items() if k != "code"}
        result = system.app.define_checklist_template(
            code, definition, actor=actor, now=system.now()
        )
        results.append((code, result.state, result.position is not None))
    return results
