"""Reading a Markdown table back out of a report, for tests."""

from __future__ import annotations


def table_rows(markdown: str, header_has: str) -> list[dict[str, str]]:
    """The rows, as header -> cell, of the first table whose header line contains `header_has`."""
    lines = markdown.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("|") and header_has in line)
    header = _cells(lines[at])
    rows = []
    for line in lines[at + 2 :]:  # past the |---| line
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, _cells(line), strict=True)))
    return rows


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]
