"""A vLLM release as a comparable tuple: the one reading of version strings for every since-rule."""

from __future__ import annotations


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """(major, minor, patch) of '0.26.0', '0.32.0+cpu', '0.11.0rc1'; None when no version is given."""
    if not version:
        return None
    parts = []
    for piece in version.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
