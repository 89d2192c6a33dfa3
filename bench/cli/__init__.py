"""`bench`: the harness's command line, one module per subcommand, wired here by one table."""

from __future__ import annotations

import typer

from bench.cli import baseline, calibrate, compare, deploy, gate, model, plan, probe, report, run

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Capacity planning and benchmarking for vLLM deployments."
)
for name, command in (
    ("plan", plan.plan),
    ("probe", probe.probe),
    ("run", run.run),
    ("report", report.report),
    ("compare", compare.compare),
    ("gate", gate.gate),
    ("calibrate", calibrate.calibrate),
):
    app.command(name)(command)
for name, group in (("model", model.app), ("baseline", baseline.app), ("deploy", deploy.app)):
    app.add_typer(group, name=name)


@app.callback()
def main() -> None:
    """Capacity planning and benchmarking for vLLM deployments."""
