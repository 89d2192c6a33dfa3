"""Tools for tests and benchmarks, not part of the harness: the FAKE OpenAI server (fake_openai.py)."""
