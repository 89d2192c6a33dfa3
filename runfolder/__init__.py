"""The run folder, the on-disk format both sides share: bench writes it, reports reads it, neither owns it.

    RUN/run.json                              schema.py (versioned; versioned.py reads old, refuses newer)
    RUN/deployments/NAME/requests.jsonl       requests.py (one RequestRecord per line; the latency definitions)
    RUN/deployments/NAME/telemetry.jsonl      telemetry.py (the sample keys)
    RUN/deployments/NAME/server.log           vLLM's own output
    RUN/models/NAME/                          a synthetic model, as served

Writes are atomic (atomic.py) or line-appended (jsonl.py skips a torn last line). A finished file may be
stored gzipped beside its name (packed.py: committed GPU runs); readers take either.
"""
