"""The benchmark's verdicts (bench/platform_bench.py, issue 20): pure helpers, no load."""
import importlib.util
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("platform_bench", PROJECT_ROOT / "bench" / "platform_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_read_is_judged_against_the_ceiling_of_the_same_run(bench):
    fast_detail = {"per_s": 600.0, "p95_ms": 20.0, "errors": 0}
    assert bench.verdict(fast_detail, 1000.0, detail=True) == {
        "ratio": 0.6, "target_ratio": 0.5, "target_p95_ms": 25.0, "met": True, "missed": []}
    # 0.4 of the ceiling is enough for a list (1/3), not for a detail read (1/2).
    list_like = {"per_s": 400.0, "p95_ms": 24.0, "errors": 0}
    assert bench.verdict(list_like, 1000.0, detail=False)["met"]
    assert bench.verdict(list_like, 1000.0, detail=True)["missed"] == ["ratio"]
    slow = {"per_s": 900.0, "p95_ms": 30.0, "errors": 3}
    assert bench.verdict(slow, 1000.0, detail=False)["missed"] == ["p95", "errors"]


def test_ratios_use_the_faster_ceiling_and_percentiles_merge_rounds(bench):
    runs = [{"when": "start", "per_s": 900.0}, {"when": "end", "per_s": 1100.0}]
    assert bench.better_ceiling(runs)["when"] == "end"
    assert bench.percentile_of_histogram({1000: 94, 30000: 6}, 95) == 30000
    assert bench.percentile_of_histogram({1000: 95, 30000: 5}, 95) == 1000
    assert bench.percentile_of_histogram({}, 95) == 0.0
