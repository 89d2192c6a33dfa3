"""How many distinct experts a batch reaches when vLLM serves dummy weights - the reason the performance
model routes calibration runs to a fixed top-k (planner/step_cost.py), not a fitted spread.

vLLM's dummy loader fills every floating-point parameter uniformly in [-1e-3, 1e-3]
(model_loader/weight_utils.py, initialize_single_dummy_weight), the router's score-correction bias
included. One MoE layer of a MiniMax-M2-shaped model is drawn that way: RMSNorm weight w, router W
(experts x hidden, fp32), bias b; a token's normalised hidden state has unit RMS, so the router sees
x = h * w. MiniMax-M2 scores sigmoid(W x) and picks top-k of score + b. Per batch size T: the distinct
experts the T tokens pick, averaged over LAYERS independently drawn layers. A softmax router without a
bias (the `--no-bias` column) picks top-k of W x alone: its noise is fresh per token, so it spreads like
uniform routing, E (1 - (1 - k / E)^T).
Run: .venv/bin/python benchmarks/dummy_routing.py [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HIDDEN = 3072  # MiniMax-M2
TOP_K = 8
LOW, HIGH = -1e-3, 1e-3  # vLLM's dummy range
LAYERS = 20
BATCHES = (1, 4, 16, 64, 256, 1024, 8192)
SEED = 0


def distinct_experts(rng: np.random.Generator, *, experts: int, tokens: int, bias: bool) -> int:
    """Distinct experts `tokens` tokens pick in one freshly drawn dummy layer."""
    w = rng.uniform(LOW, HIGH, HIDDEN)
    router = rng.uniform(LOW, HIGH, (experts, HIDDEN)).astype(np.float32)
    x = (rng.standard_normal((tokens, HIDDEN)) * w).astype(np.float32)
    logits = x @ router.T
    scores = 1.0 / (1.0 + np.exp(-logits)) + rng.uniform(LOW, HIGH, experts) if bias else logits
    picked = np.argpartition(-scores, TOP_K, axis=1)[:, :TOP_K]
    return len(np.unique(picked))


def table() -> str:
    rng = np.random.default_rng(SEED)
    lines = [f"dummy weights U({LOW:g}, {HIGH:g}), hidden {HIDDEN}, top-{TOP_K}; mean over {LAYERS} layers",
             f"{'experts':>7} {'tokens':>6} {'bias+sigmoid':>12} {'no bias':>8} {'uniform':>8}"]  # fmt: skip
    for experts in (64, 256):
        for tokens in BATCHES:
            biased = np.mean([distinct_experts(rng, experts=experts, tokens=tokens, bias=True) for _ in range(LAYERS)])
            plain = np.mean([distinct_experts(rng, experts=experts, tokens=tokens, bias=False) for _ in range(LAYERS)])
            uniform = experts * (1 - (1 - TOP_K / experts) ** tokens)
            lines.append(f"{experts:>7} {tokens:>6} {biased:>12.1f} {plain:>8.1f} {uniform:>8.1f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = table()
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
