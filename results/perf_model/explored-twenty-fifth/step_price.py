"""The step model's price of the profiled H100 run's step shapes, and its terms, with a calibration's factors.
Run from the repository root: .venv/bin/python results/perf_model/explored-twenty-fifth/step_price.py [CALIBRATION]
(default: the shipped file). A variant's figures: apply its patch, refit with the shipped command into a file, give
that file. The terms are the step model's (planner/step_cost.py) as shipped: GEMMs = 2 x linear parameters x
tokens / (FP8 peak x gemm_efficiency), the experts' share of it, the host's launch = layers x eager_layer_us."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from planner.calibration import Calibration, performance_class  # noqa: E402
from planner.step_cost import StepShape, engine_pricer, step_model  # noqa: E402
from reports.perf_fit import perf_cases  # noqa: E402
from reports.run_data import open_runs  # noqa: E402

RUN = Path("results/gpu_moe_profile/20261128-033229-gpu_moe_profile")
SHAPES = {
    "8 x 1,024-token prompts": StepShape(prefills=((1024, 0),) * 8),
    "2 x 1,024-token prompts + 2 decodes": StepShape(prefills=((1024, 0),) * 2, decode_contexts=(1050,) * 2),
    "a lone 1,024-token prompt": StepShape(prefills=((1024, 0),)),
    "16 decodes at 1,050": StepShape(decode_contexts=(1050,) * 16),
    "1 decode at 1,050": StepShape(decode_contexts=(1050,)),
}

path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("planner/calibrations/vllm-0.26.0.json")
case = perf_cases(open_runs([RUN]))[0]
factors = Calibration.model_validate_json(path.read_text()).performance_factors(case.gpu, performance_class(case.model))[0]
sm = step_model(case.model, case.layout, kv_cache_dtype=case.plan.kv_cache_dtype,
                graph_tokens=case.plan.server.largest_capture, dummy_weights=True)
price = engine_pricer(sm, case.gpu, factors)
fp8 = case.gpu.speeds()[2]
print(f"$ .venv/bin/python results/perf_model/explored-twenty-fifth/step_price.py {' '.join(sys.argv[1:])}".rstrip())
print(f"{case.gpu.name}, {path}: gemm_efficiency {factors.gemm_efficiency:.3f}, eager_layer_us {factors.eager_layer_us:.1f}")
for name, shape in SHAPES.items():
    eager = shape.uncaptured(sm.graph_tokens)
    gemms = 2 * sm.gemm_params * shape.tokens / (fp8 * factors.gemm_efficiency)
    experts = 2 * sm.expert_gemm_params * shape.tokens / (fp8 * factors.gemm_efficiency)
    launch = sm.layers * factors.eager_layer_us * 1e-6 if eager else 0.0
    print(f"{name:>36}: price {1e3 * price(shape, shape.tokens, eager):6.1f} ms; GEMMs {1e3 * gemms:6.1f} "
          f"(experts {1e3 * experts:6.1f}); launch {1e3 * launch:5.1f}")
# the profiled full step (8,191 prompt tokens + 1 decode; results/perf_model/moe-profile-spread-h100.txt): its
# fused MoE kernels' 206.20 ms and its dense GEMMs' 34.05 ms against their FLOPs at the card's FP8 peak
tokens = 8192
for label, params, ms in (("experts", sm.expert_gemm_params, 206.20), ("dense", sm.gemm_params - sm.expert_gemm_params, 34.05)):
    flops = 2 * params * tokens
    print(f"profiled {label} GEMMs: {flops / 1e12:.1f} TFLOP in {ms} ms = {flops / (ms * 1e-3) / fp8:.2f} of FP8 peak")
