#!/usr/bin/env bash
# Every TP1/TP2 run of one card checked from the other card's shipped factors (out of sample), TP4 from
# each; then the levels grouped by load domain (benchmarks/perf_domains.py -> results/perf_model/domains).
# Run from the repository root: bash results/perf_model/cross-card/run.sh [OUT_DIR]
set -euo pipefail
out=${1:-results/perf_model/cross-card}
H200="results/gpu_perf_h200/20261126-040915-gpu_perf results/gpu_perf_h200/20261126-043140-gpu_perf_check results/gpu_single_h200/20261125-041934-gpu_single results/gpu_perf_blind/20261126-054506-gpu_perf_blind results/gpu_perf_blind/20261126-055221-gpu_perf_blind results/gpu_perf_blind4/20261126-084617-gpu_perf_blind4 results/gpu_perf_blind4/20261126-085340-gpu_perf_blind4 results/gpu_perf_blind7/20261126-141249-gpu_perf_blind7 results/gpu_perf_blind7/20261126-142326-gpu_perf_blind7 results/gpu_prompt_curve/20261126-141912-gpu_prompt_curve results/gpu_perf_blind8/20261126-150523-gpu_perf_blind8 results/gpu_prompt_curve_tp/20261126-161354-gpu_prompt_curve_tp results/gpu_prompt_curve_tp/20261126-162455-gpu_prompt_curve_tp results/gpu_prompt_curve_tp/20261126-163048-gpu_prompt_curve_tp results/gpu_waves/20261126-182907-gpu_waves results/gpu_waves/20261126-184355-gpu_waves results/gpu_wave_edges/20261126-214414-gpu_wave_edges results/gpu_wave_rule/20261127-001951-gpu_wave_rule results/gpu_wave_rule/20261127-002514-gpu_wave_rule results/gpu_steps_blind/20261127-010535-gpu_steps_blind results/gpu_steps_blind/20261127-011158-gpu_steps_blind"
H100="results/gpu_perf_h100/20261126-034427-gpu_perf results/gpu_perf_h100/20261126-035906-gpu_perf results/gpu_single/20261125-034533-gpu_single results/gpu_single/20261125-035238-gpu_single results/gpu_perf_blind4/20261126-090810-gpu_perf_blind4 results/gpu_perf_blind7/20261126-143239-gpu_perf_blind7 results/gpu_prompt_curve/20261126-144017-gpu_prompt_curve results/gpu_perf_blind8/20261126-151352-gpu_perf_blind8 results/gpu_prompt_curve_tp/20261126-164807-gpu_prompt_curve_tp results/gpu_waves/20261126-185357-gpu_waves results/gpu_wave_edges/20261126-215314-gpu_wave_edges results/gpu_wave_edges/20261126-220038-gpu_wave_edges results/gpu_wave_rule/20261127-003227-gpu_wave_rule results/gpu_wave_rule/20261127-003918-gpu_wave_rule results/gpu_steps_blind/20261127-011850-gpu_steps_blind results/gpu_steps_blind/20261127-012551-gpu_steps_blind"
TP4="results/gpu_perf_tp4/20261126-104550-gpu_perf_tp4 results/gpu_perf_tp4b/20261126-110817-gpu_perf_tp4b results/gpu_prompt_curve_tp/20261126-213609-gpu_prompt_curve_tp"
check() { .venv/bin/python benchmarks/perf_model.py --factors-gpu "$1" --check ${@:3} --out "$out/$2" > /dev/null; }
check h100 h200-from-h100 $H200
check h200 h100-from-h200 $H100
check h100 tp4-from-h100 $TP4
check h200 tp4-from-h200 $TP4
for f in "$out"/*-from-*.txt; do echo "$(basename "$f" .txt): $(tail -1 "$f")"; done
.venv/bin/python benchmarks/perf_domains.py "$out"/*-from-*.json --out "${2:-results/perf_model/domains}"
