"""The live half of the harness: vLLM processes, HTTP load, telemetry, and the `bench` CLI."""
