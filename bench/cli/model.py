"""`bench model synth`: write a config-only model for `--load-format dummy`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.errors import usage_error
from bench.server.synth_model import write_synthetic_model
from planner import PlanError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Synthetic models.")


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write.")],
    like: Annotated[str, typer.Option(help="Family from the planner catalog.")] = "minimax-m2",
    full: Annotated[bool, typer.Option("--full", help="The family's full-size config (for GPUs).")] = False,
    layers: Annotated[int | None, typer.Option()] = None,
    hidden: Annotated[int | None, typer.Option()] = None,
    heads: Annotated[int | None, typer.Option()] = None,
    kv_heads: Annotated[int | None, typer.Option()] = None,
    head_dim: Annotated[int | None, typer.Option()] = None,
    experts: Annotated[int | None, typer.Option()] = None,
    top_k: Annotated[int | None, typer.Option()] = None,
    intermediate: Annotated[int | None, typer.Option()] = None,
    vocab: Annotated[int | None, typer.Option()] = None,
    max_position: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Write config.json (family + overrides), a locally trained tokenizer and a chat template."""
    sizes = {
        k: v
        for k, v in dict(
            layers=layers,
            hidden=hidden,
            heads=heads,
            kv_heads=kv_heads,
            head_dim=head_dim,
            experts=experts,
            top_k=top_k,
            intermediate=intermediate,
            vocab=vocab,
            max_position=max_position,
        ).items()
        if v is not None
    }
    try:
        folder = write_synthetic_model(out, like, sizes, full)
    except PlanError as exc:
        raise usage_error(exc) from None
    typer.echo(str(folder))
