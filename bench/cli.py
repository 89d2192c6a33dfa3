"""`bench`: the harness's command line."""

from __future__ import annotations

import typer

from bench.plan_command import plan

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Capacity planning and benchmarking for vLLM deployments.")
app.command("plan")(plan)


@app.callback()
def main() -> None:
    """Capacity planning and benchmarking for vLLM deployments."""


if __name__ == "__main__":
    app()
