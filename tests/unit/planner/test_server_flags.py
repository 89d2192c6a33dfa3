"""Reading one flag's value off a vLLM command line, as run records keep it (argv)."""

from planner.server_flags import flag_value


def test_a_flag_is_read_in_either_form_and_absent_flags_are_none():
    argv = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "/m", "--enforce-eager",
            "--load-format", "dummy", "--max-model-len=65536"]  # fmt: skip
    assert flag_value(argv, "--load-format") == "dummy"
    assert flag_value(argv, "--max-model-len") == "65536"
    assert flag_value(argv, "--kv-cache-dtype") is None
    assert flag_value(argv, "--enforce-eager") is None  # a switch carries no value
