"""The host's CPU decides what a CPU deployment may ask for; refusals come before anything starts.

Recorded /proc/cpuinfo files (tests/data/cpuinfo) let every host rehearse the AVX2-only host's
decisions through BENCH_CPUINFO; the harness reads the real /proc/cpuinfo otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.server.cpu_host import CPUINFO_ENV, cpu_kv_refusal, parse_cpuinfo, split_cores, this_host
from tests.paths import DATA

DATA = DATA / "cpuinfo"
AVX2, AVX512 = DATA / "avx2-only-host.txt", DATA / "avx512-host.txt"
runner = CliRunner()


@pytest.fixture
def host(monkeypatch):
    """Point the harness at a recorded host."""

    def use(path: Path) -> None:
        monkeypatch.setenv(CPUINFO_ENV, str(path))

    return use


def test_the_recorded_host_is_read_after_this_one_was(host):
    """Whatever asked first, the variable decides: the committed runs are replayed on the hosts they ran on."""
    host(AVX512)
    assert this_host().isa == "AVX-512"
    host(AVX2)
    assert this_host().isa == "AVX2"


def test_recorded_hosts_parse():
    avx2, avx512 = parse_cpuinfo(AVX2.read_text()), parse_cpuinfo(AVX512.read_text())
    assert (avx2.isa, avx512.isa) == ("AVX2", "AVX-512")
    assert avx2.model == avx512.model == "AMD EPYC"
    assert "avx2" in avx2.flags and not any(f.startswith("avx512") for f in avx2.flags)


def test_fp8_kv_needs_avx512_and_a_head_dim_multiple_of_32():
    avx2, avx512 = parse_cpuinfo(AVX2.read_text()), parse_cpuinfo(AVX512.read_text())
    assert "AVX-512 or AMX" in cpu_kv_refusal("fp8", 128, avx2)
    assert cpu_kv_refusal("fp8_e4m3", 128, avx512) is None and cpu_kv_refusal("auto", 128, avx2) is None
    assert "divisible by 32" in cpu_kv_refusal("fp8", 48, avx512)  # vLLM's vec16 path has no fp8
    assert cpu_kv_refusal("fp8", 64, avx512) is None


def test_cores_split_disjoint_with_one_for_the_client():
    two = split_cores({0, 1})
    assert two is not None and (two.as_record().server, two.as_record().client) == ([0], [1])
    assert split_cores({3}) is None  # one core: nothing to split
    split = split_cores(set(range(8)), client_cores=3)
    assert split.client == (5, 6, 7) and split.server == (0, 1, 2, 3, 4) and split.omp_bind() == "0,1,2,3,4"
    assert len(split_cores(set(range(4)), client_cores=9).client) == 2  # the server keeps at least half


def test_ranks_get_shares_of_the_servers_cores_or_share_them():
    eight = split_cores(set(range(8)), ranks=2)  # server 0-6, client 7
    assert eight.omp_bind() == "0,1,2,3|4,5,6"  # contiguous, the remainder to the first rank
    assert eight.as_record().ranks == [[0, 1, 2, 3], [4, 5, 6]]
    two = split_cores({0, 1}, ranks=4)  # one server core for four ranks: they take turns on it
    assert two.omp_bind() == "0|0|0|0" and two.client == (1,)
    four = split_cores(set(range(4)), ranks=8)  # three server cores, eight ranks: dealt round-robin
    assert four.omp_bind() == "0|1|2|0|1|2|0|1"


def fp8_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "fp8.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "fp8",
                "deployments": [
                    {"name": "ok", "model": {"like": "minimax-m2"}},
                    {"name": "fp8", "model": {"like": "llama-3.1-70b"}, "kv_cache_dtype": "fp8"},
                ],
                "load": {"levels": [{"concurrency": 1}]},
            },
            sort_keys=False,
        )
    )
    return path


def test_bench_run_refuses_fp8_kv_on_an_avx2_host_before_anything_starts(tmp_path, host):
    host(AVX2)
    path = fp8_scenario(tmp_path)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "kv_cache_dtype" in text)
    assert f"{path}:{line}: deployments.1.kv_cache_dtype: fp8 KV cache on CPU needs AVX-512" in result.output
    assert "fix: kv_cache_dtype: auto" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # the bf16 deployment before it did not start either
    # the dry run refuses the same way; naming only the other deployment runs the check on it alone
    assert runner.invoke(app, ["run", str(path), "--dry-run"]).exit_code == 2
    assert runner.invoke(app, ["run", str(path), "--dry-run", "--deployment", "ok", "--json"]).exit_code == 0


def test_an_avx512_host_accepts_the_same_scenario(tmp_path, host):
    host(AVX512)
    result = runner.invoke(app, ["run", str(fp8_scenario(tmp_path)), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output


PLAN_FP8_ON_CPU = "plan llama-3.1-70b --gpu cpu --cpu-kvcache-space 1 --kv-cache-dtype fp8 --max-model-len 4096"


def test_plan_and_probe_refuse_fp8_kv_on_cpu_of_an_avx2_host(tmp_path, host):
    host(AVX2)
    plan = runner.invoke(app, PLAN_FP8_ON_CPU.split())
    assert plan.exit_code == 2 and "error: --kv-cache-dtype: fp8 KV cache on CPU needs AVX-512" in plan.output
    assert "fix: --kv-cache-dtype auto" in plan.output
    probe = runner.invoke(app, ["probe", "--kv-cache-dtype", "fp8", "--out", str(tmp_path / "runs")])
    assert probe.exit_code == 2 and "fix: --kv-cache-dtype auto" in probe.output
    assert not (tmp_path / "runs").exists()
    host(AVX512)
    assert runner.invoke(app, PLAN_FP8_ON_CPU.split()).exit_code == 0
