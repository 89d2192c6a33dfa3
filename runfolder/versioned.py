"""Versioned JSON documents of the run folder (run.json, baselines): old versions are re-read, newer
ones refused with the fix, damaged ones named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Document = TypeVar("Document", bound=BaseModel)


class RunFolderError(ValueError):
    """A run folder that can't be read: missing, damaged, or written by a newer harness."""


def load_versioned(path: Path, schema: type[Document], newest: int, missing: str) -> Document:
    """A versioned JSON document; missing, unreadable, newer or malformed -> RunFolderError saying which."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RunFolderError(missing) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: unreadable ({exc})") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > newest:
        raise RunFolderError(
            f"{path}: schema_version {version!r} is newer than this harness reads ({newest}); fix: upgrade the harness"
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise RunFolderError(f"{path}: does not match schema {version}: {exc.errors()[0]['loc']}") from exc
