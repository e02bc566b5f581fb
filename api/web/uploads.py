"""Photos, stored by content hash: ``<upload_dir>/<aa>/<sha256>.<ext>``.

A finding or a submission refers to a photo as ``photo:<sha256>.<ext>`` in its description or
evidence, so the event log names exactly which bytes were shown, and the same photo sent
twice is stored once. The type is decided by the file's first bytes, not by its name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from domain.errors import InvalidCommand
from projections.photos import PHOTO_REFERENCE, photo_names

SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"WEBP", 8, "webp"),
)
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
NAME = re.compile(r"^([0-9a-f]{64})\.(jpg|png|webp)$")
MAX_PHOTOS = 4


def sniff(head: bytes) -> str | None:
    for magic, offset, ext in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if ext == "webp" and head[:4] != b"RIFF":
                continue
            return ext
    return None


@dataclass(frozen=True)
class PhotoStore:
    root: Path
    max_bytes: int

    def save(self, stream: BinaryIO) -> str:
        """Store a photo and return its reference ``photo:<sha256>.<ext>``."""
        data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise InvalidCommand(
                "photos",
                f"a photo may be at most {self.max_bytes // (1024 * 1024)} MB",
                f"照片不能超过 {self.max_bytes // (1024 * 1024)} MB",
            )
        ext = sniff(data[:16])
        if ext is None:
            raise InvalidCommand(
                "photos", "a photo must be a JPEG, PNG or WebP image", "照片须为 JPEG、PNG 或 WebP"
            )
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest, ext)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a reader never sees half a photo
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        return f"photo:{digest}.{ext}"

    def path(self, digest: str, ext: str) -> Path:
        return self.root / digest[:2] / f"{digest}.{ext}"

    def find(self, name: str) -> tuple[Path, str] | None:
        match = NAME.match(name)
        if match is None:
            return None
        path = self.path(match.group(1), match.group(2))
        return (path, MEDIA_TYPES[match.group(2)]) if path.is_file() else None


def references(text: str) -> list[str]:
    """Photo file names (``<sha256>.<ext>``) referred to in a text."""
    return photo_names(text)


def strip_references(text: str) -> str:
    return PHOTO_REFERENCE.sub("", text).strip()
