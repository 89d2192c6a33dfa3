#!/bin/bash
# usage: eval.sh TAG  -> /tmp/ev/TAG-*.txt, prints counts
cd /work/main
T=$1; O=/tmp/ev/$T; mkdir -p $O
H200ALL=$(.venv/bin/python -c "import json;print(' '.join(json.load(open('results/perf_model/after-arrivals-h100-factors-h200-all.json'))['check']))")
H100ALL=$(.venv/bin/python -c "import json;print(' '.join(json.load(open('results/perf_model/after-arrivals-h200-factors-h100-all.json'))['check']))")
TP4=$(.venv/bin/python -c "import json;print(' '.join(json.load(open('results/perf_model/after-arrivals-h100-factors-h200-tp4.json'))['check']))")
NEW200="results/gpu_perf_blind8/20261126-150523-gpu_perf_blind8 $(ls -d results/gpu_prompt_curve_tp/2026*)"
NEW100="results/gpu_perf_blind8/20261126-151352-gpu_perf_blind8"
run() { .venv/bin/python benchmarks/perf_model.py --factors-gpu $1 --check ${@:3} --out $O/$2 > /dev/null 2>&1; echo "$2: $(tail -1 $O/$2.txt)"; }
run h100 h100-h200-all $H200ALL &
run h200 h100-all-from-h200 $H100ALL &
run h100 tp4-from-h100 $TP4 &
wait
run h200 tp4-own $TP4 &
run h100 h200-new-from-h100 $NEW200 &
run h200 h100-new-from-h200 $NEW100 &
wait
