"""`bench`: the harness's command line."""

from __future__ import annotations

import typer

from bench.deploy_command import app as deploy_app
from bench.model_command import app as model_app
from bench.plan_command import plan
from bench.probe_command import probe
from bench.report_command import baseline_app, compare, gate, report
from bench.run_command import run

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Capacity planning and benchmarking for vLLM deployments.")
app.command("plan")(plan)
app.command("probe")(probe)
app.command("run")(run)
app.add_typer(model_app, name="model")
app.command("report")(report)
app.command("compare")(compare)
app.command("gate")(gate)
app.add_typer(baseline_app, name="baseline")
app.add_typer(deploy_app, name="deploy")


@app.callback()
def main() -> None:
    """Capacity planning and benchmarking for vLLM deployments."""


if __name__ == "__main__":
    app()
