"""Code that runs on a cluster node, shipped there by value (cloudpickle) or as files: nodes have vLLM
and Ray but not this harness, so every module here imports the standard library, its siblings and
(inside a Ray actor) ray only; tests/unit/test_boundaries.py enforces it."""
