"""A vLLM command line's memory-relevant flags, read into ServerSettings; flags whose memory effect
the planner cannot model are kept by name, so a plan says it ignored them instead of doing so silently."""

from __future__ import annotations

import json

from pydantic import ValidationError

from planner.errors import InputError
from planner.server_settings import ServerSettings

# Flags a deployment sets through its own fields: in extra_args they would contradict the prediction.
OWNED = {"--model": "model", "--served-model-name": "served_model_name", "--host": "host", "--port": "port",
         "--tensor-parallel-size": "tp", "-tp": "tp", "--pipeline-parallel-size": "pp", "-pp": "pp",
         "--data-parallel-size": "dp", "-dp": "dp", "--enable-expert-parallel": "ep",
         "--gpu-memory-utilization": "gpu_memory_utilization", "--max-model-len": "max_model_len",
         "--kv-cache-dtype": "kv_cache_dtype", "--block-size": "block_size",
         "--kv-cache-memory-bytes": "kv_cache_memory_bytes", "--load-format": "load_format",
         "--trust-remote-code": "trust_remote_code"}  # fmt: skip
# Flags with no effect on the memory budget (serving, parsing, logging, scheduling policy).
NO_MEMORY_EFFECT = {"--enable-auto-tool-choice", "--tool-call-parser", "--reasoning-parser", "--chat-template",
                    "--enable-chunked-prefill",
                    "--disable-log-requests", "--disable-log-stats", "--enable-log-requests", "--uvicorn-log-level",
                    "--seed", "--distributed-executor-backend", "--api-key", "--disable-uvicorn-access-log",
                    "--max-log-len", "--tokenizer", "--tokenizer-mode", "--generation-config",
                    "--override-generation-config", "--allowed-local-media-path", "--scheduling-policy",
                    "--enable-request-id-headers", "--root-path", "--response-role"}  # fmt: skip
FLAGS_WITHOUT_VALUE = {"--enforce-eager", "--no-enforce-eager", "--enable-auto-tool-choice", "--enable-prefix-caching",
                       "--no-enable-prefix-caching", "--enable-chunked-prefill", "--disable-log-requests",
                       "--disable-log-stats", "--enable-log-requests", "--trust-remote-code",
                       "--enable-expert-parallel", "--disable-uvicorn-access-log", "--enable-lora",
                       "--enable-request-id-headers"}  # fmt: skip


def parse_server_flags(args: list[str], field: str = "extra_args") -> ServerSettings:
    """ServerSettings from extra vLLM arguments (`--flag value`, `--flag=value`); the version is not here."""
    values: dict[str, object] = {}
    unmodelled: list[str] = []
    for flag, value in _pairs(args):
        if flag in OWNED:
            raise InputError(field, f"{flag} is the deployment's own setting", f"set {OWNED[flag]} instead")
        if flag in NO_MEMORY_EFFECT:
            continue
        if flag == "--max-num-batched-tokens":
            values["max_num_batched_tokens"] = _int(flag, value, field)
        elif flag == "--max-num-seqs":
            values["max_num_seqs"] = _int(flag, value, field)
        elif flag == "--max-cudagraph-capture-size":
            values["max_cudagraph_capture_size"] = _int(flag, value, field)
        elif flag in ("--enable-prefix-caching", "--no-enable-prefix-caching"):
            values["enable_prefix_caching"] = flag == "--enable-prefix-caching"
        elif flag in ("--enforce-eager", "--no-enforce-eager"):
            values["enforce_eager"] = flag == "--enforce-eager"
        elif flag in ("--compilation-config", "-cc"):
            values |= _compilation(value, field, unmodelled)
        else:
            unmodelled.append(flag if value is None else f"{flag} {value}")
    try:
        return ServerSettings.model_validate(values | {"unmodelled": tuple(unmodelled)})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(
            field,
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}",
            "cudagraph_mode is one of FULL_AND_PIECEWISE, PIECEWISE, FULL, FULL_DECODE_ONLY, NONE",
        ) from None


def flag_value(args: list[str], flag: str) -> str | None:
    """The last value a command line gives `flag` (`--flag value` or `--flag=value`), None if it is absent."""
    values = [value for name, value in _pairs(args) if name == flag]
    return values[-1] if values else None


def _pairs(args: list[str]) -> list[tuple[str, str | None]]:
    pairs, index = [], 0
    while index < len(args):
        token = args[index]
        flag, eq, value = token.partition("=")
        if (
            not eq
            and flag not in FLAGS_WITHOUT_VALUE
            and index + 1 < len(args)
            and not args[index + 1].startswith("--")
        ):
            value, index = args[index + 1], index + 1
        pairs.append((flag, value if (eq or value) else None))
        index += 1
    return pairs


def _int(flag: str, value: str | None, field: str) -> int:
    if value is None or not value.isdigit():
        raise InputError(field, f"{flag} needs a positive integer, got {value!r}", f"give {flag} N")
    return int(value)


def _compilation(value: str | None, field: str, unmodelled: list[str]) -> dict[str, object]:
    try:
        config = json.loads(value or "")
    except json.JSONDecodeError:
        raise InputError(
            field,
            f"--compilation-config is not JSON: {value!r}",
            """give it as JSON, e.g. '{"cudagraph_mode": "PIECEWISE"}'""",
        ) from None
    if not isinstance(config, dict):
        raise InputError(
            field, "--compilation-config must be a JSON object", """e.g. '{"cudagraph_mode": "PIECEWISE"}'"""
        )
    known = {"cudagraph_mode": "cudagraph_mode", "max_cudagraph_capture_size": "max_cudagraph_capture_size"}
    unmodelled += [f"--compilation-config {key}" for key in config if key not in known]
    return {known[key]: value for key, value in config.items() if key in known}
