"""Code that runs on a cluster node, shipped there by value (cloudpickle) or as files: nodes have vLLM
but not this harness, so every module here imports the standard library and its siblings only
(tests/unit/test_boundaries.py enforces it)."""
