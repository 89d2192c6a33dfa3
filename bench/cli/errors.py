"""The one way a subcommand refuses bad input: `error: FIELD: problem; fix: ...` on stderr, exit 2,
nothing started and nothing written."""

from __future__ import annotations

import typer
from pydantic import ValidationError

EXIT_USAGE = 2


def usage_error(message: object) -> typer.Exit:
    """Print the message; `raise usage_error(...) from None` ends the command with exit 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def first_error(exc: Exception) -> str:
    """A pydantic error as `field.path: message` (the first one: fix it and run again); else str(exc)."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
    return str(exc)
