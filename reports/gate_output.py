"""Gate findings as a Markdown summary (CI logs) and as JUnit XML (CI test reports)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from reports.baseline import Baseline
from reports.gate import Finding, exit_code
from reports.served_setup import changed_settings

MARK = {"pass": "pass", "regression": "REGRESSION", "inconclusive": "inconclusive", "missing": "MISSING"}


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _failing(strict: bool) -> set[str]:
    return {"regression", "missing"} | ({"inconclusive"} if strict else set())


def markdown_summary(findings: list[Finding], baseline: Baseline, current: Baseline, *, strict: bool = False) -> str:
    verdict = (
        ("REGRESSION" if any(f.verdict == "regression" for f in findings) else "FAIL")
        if exit_code(findings, strict)
        else "pass"
    )
    counts = {v: sum(f.verdict == v for f in findings) for v in MARK}
    lines = [
        f"## bench gate: {verdict}",
        "",
        f"Scenario `{baseline.scenario}`: baseline {', '.join(r.run_id for r in baseline.runs)}; "
        f"candidate {', '.join(r.run_id for r in current.runs)}. "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        + (" (--strict: inconclusive fails)" if strict else ""),
        "",
        "| deployment | level | metric | rule | baseline | candidate | change | verdict | how |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        change = f"{f.change:+.1%}" if f.change is not None else "-"
        lines.append(
            f"| {f.deployment} | {f.level} | {f.metric} | {f.rule} | {_n(f.baseline)} | {_n(f.current)} | "
            f"{change} | {MARK[f.verdict]} | {f.method} |"
        )
    return "\n".join(lines + _served_differently(baseline, current))


def _served_differently(baseline: Baseline, current: Baseline) -> list[str]:
    """What the candidate served differently from the baseline's first run (baselines from schema 3 on)."""
    before, now = baseline.runs[0].setup, current.runs[0].setup
    changes = [c for name in now if name in before for c in changed_settings(name, before[name], now[name])]
    if not changes:
        return []
    return ["", "Served differently from the baseline - a change above is partly the setup's:", "",
            *(f"- {change}" for change in changes)]  # fmt: skip


def junit_xml(findings: list[Finding], *, strict: bool = False) -> str:
    failing = _failing(strict)
    suite = ET.Element(
        "testsuite",
        name="bench gate",
        tests=str(len(findings)),
        failures=str(sum(f.verdict in failing for f in findings)),
        skipped=str(sum(f.verdict == "inconclusive" and f.verdict not in failing for f in findings)),
    )
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname=f"bench.gate.{f.deployment}", name=f"{f.level}/{f.metric}")
        detail = (
            f"{f.rule}: baseline {_n(f.baseline)}, candidate {_n(f.current)}, "
            f"change {f'{f.change:+.1%}' if f.change is not None else '-'} ({f.method})"
        )
        if f.verdict in failing:
            ET.SubElement(case, "failure", message=f"{f.verdict}: {detail}")
        elif f.verdict == "inconclusive":
            ET.SubElement(case, "skipped", message=f"inconclusive: {detail}")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
