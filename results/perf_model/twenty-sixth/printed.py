"""How this folder's scripts hand back what they made: printed, and written to --out when given, the command first."""

from pathlib import Path


def emit(lines: list[str], out: Path | None) -> None:
    text = "\n".join(lines) + "\n"
    if out:
        out.write_text(text)
    print(text, end="")
