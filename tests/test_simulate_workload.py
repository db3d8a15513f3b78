"""Workload layer of the serving simulator: bundled traces, arrival generators, transforms, input errors.

Reference figures are those "verified here" in the SOURCE.md of each bundled folder
(``src/gigafactory/simulate/data/traces/<folder>/SOURCE.md``, copied from ``shared/data/traces``).
"""
from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from conftest import SHARED

from gigafactory.errors import InputError
from gigafactory.simulate import workload as W
from gigafactory.simulate.workload import (
    TRACES,
    Workload,
    assign_models,
    diurnal_arrivals,
    gamma_arrivals,
    load_lengths,
    load_trace,
    poisson_arrivals,
    scale_to_rate,
    synthetic,
    trace_names,
    window,
)

SHARED_TRACES = SHARED / "data" / "traces"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------- bundled data

# name: rows, span_s, mean rps (n/span), input mean/p50/p99, output mean/p50/p99 — from SOURCE.md
TRACE_FIGURES = {
    # azure_llm_2023/SOURCE.md: "AzureLLMInferenceTrace_conv.csv | 719,188 | 19,366 | 3,502 s | 5.53 | 1155 / 1020 / 4142 | 211 / 129 / 601"
    "azure-conv-2023": (19_366, 3502, 5.53, (1155, 1020, 4142), (211, 129, 601)),
    # azure_llm_2023/SOURCE.md: "AzureLLMInferenceTrace_code.csv | 320,117 | 8,819 | 3,436 s | 2.57 | 2048 / 1469 / 7436 | 27.9 / 13 / 251"
    "azure-code-2023": (8_819, 3436, 2.57, (2048, 1469, 7436), (27.9, 13, 251)),
    # mooncake_fast25/SOURCE.md: "conversation_trace.jsonl | 3,029,533 | 12,031 | 3,537 s | 3.40 | 12035 / 6909 / 85400 | 343 / 350 / 1119"
    "mooncake-conversation": (12_031, 3537, 3.40, (12035, 6909, 85400), (343, 350, 1119)),
    # mooncake_fast25/SOURCE.md: "synthetic_trace.jsonl | 1,136,313 | 3,993 | 1,022 s | 3.91 | 15326 / 11587 / 66456 | 149 / 69 / 768"
    "mooncake-synthetic": (3_993, 1022, 3.91, (15326, 11587, 66456), (149, 69, 768)),
}

# name: rows, prefill mean/p50/p90/p99, decode mean/p50/p90/p99 — from SOURCE.md
LENGTH_FIGURES = {
    # sharegpt_lengths/SOURCE.md: "30,731 rows ... prefill mean 2340 / p50 1730 / p90 5696 / p99 7434; decode mean 439 / p50 415 / p90 834 / p99 998"
    "sharegpt": (30_731, (2340, 1730, 5696, 7434), (439, 415, 834, 998)),
    # arxiv_summarization_lengths/SOURCE.md: "28,257 rows prefill mean 2588 / p50 2730 / p90 3702 / p99 3933; decode mean 291 / p50 167 / p90 372 / p99 3271"
    "arxiv-summarization": (28_257, (2588, 2730, 3702, 3933), (291, 167, 372, 3271)),
}


def test_registry_names():
    assert trace_names() == ["azure-conv-2023", "azure-code-2023", "mooncake-conversation", "mooncake-synthetic",
                             "sharegpt", "arxiv-summarization"]
    assert trace_names("lengths") == ["sharegpt", "arxiv-summarization"]
    for info in TRACES.values():
        folder = info.path.parent
        assert info.path.is_file(), info.path
        assert (folder / "SOURCE.md").is_file()
        assert (folder / "LICENSE.md").is_file()
        assert any(folder.glob("LICENSE-*.txt")) or "MIT" in (folder / "LICENSE.md").read_text()


@pytest.mark.parametrize("name", list(TRACE_FIGURES))
def test_bundled_trace_matches_source_md(name):
    rows, span, rps, (in_mean, in_p50, in_p99), (out_mean, out_p50, out_p99) = TRACE_FIGURES[name]
    wl = load_trace(name)
    assert len(wl) == rows
    assert wl.arrival_s[0] == 0.0 and np.all(np.diff(wl.arrival_s) >= 0)
    assert wl.arrival_s[-1] == pytest.approx(span, abs=1.0)
    assert rows / wl.arrival_s[-1] == pytest.approx(rps, abs=0.006)
    # duration = span * n/(n-1): the replay period; its mean rate differs from n/span by one request
    assert wl.duration_s == pytest.approx(wl.arrival_s[-1] * rows / (rows - 1))
    assert wl.mean_rate_rps == pytest.approx(rps, rel=0.005)
    assert wl.input_tokens.mean() == pytest.approx(in_mean, rel=0.005)
    assert wl.output_tokens.mean() == pytest.approx(out_mean, rel=0.005)
    assert np.percentile(wl.input_tokens, 50) == pytest.approx(in_p50, abs=1)
    assert np.percentile(wl.output_tokens, 50) == pytest.approx(out_p50, abs=1)
    assert np.percentile(wl.input_tokens, 99) == pytest.approx(in_p99, abs=1)
    assert np.percentile(wl.output_tokens, 99) == pytest.approx(out_p99, abs=1)
    assert wl.arrival_s.dtype == np.float64 and wl.input_tokens.dtype == np.int64
    assert wl.output_tokens.dtype == np.int64 and wl.model.dtype == np.int16
    assert wl.models == ("default",) and not wl.model.any()
    assert TRACES[name].attribution.split(",")[0] in wl.source


@pytest.mark.parametrize("name", list(LENGTH_FIGURES))
def test_bundled_length_tables_match_source_md(name):
    rows, prefill, decode = LENGTH_FIGURES[name]
    inp, out = load_lengths(name)
    assert len(inp) == len(out) == rows
    for arr, (mean, p50, p90, p99) in ((inp, prefill), (out, decode)):
        assert arr.dtype == np.int64 and arr.min() >= 1
        assert arr.mean() == pytest.approx(mean, abs=0.5)
        assert [np.percentile(arr, q) for q in (50, 90, 99)] == pytest.approx([p50, p90, p99], abs=1)


def test_bundled_traces_are_cached_and_read_only():
    a = load_trace("azure-conv-2023")
    assert load_trace("azure-conv-2023") is a
    for arr in (a.arrival_s, a.input_tokens, a.output_tokens, a.model):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1
    inp, _ = load_lengths("sharegpt")
    assert not inp.flags.writeable
    # load_lengths of a trace gives its token columns
    i2, o2 = load_lengths("azure-conv-2023")
    assert np.array_equal(i2, a.input_tokens) and np.array_equal(o2, a.output_tokens)


def test_every_bundled_file_parses_uncached():
    """Every bundled trace and length table parses from its gzipped file, not the cache.
    (How long that takes is measured by bench/bench_simulate.py, not asserted here.)"""
    for name, info in TRACES.items():
        if info.kind == "trace":
            wl = W._load_uncached(name)
            assert len(wl.input_tokens) > 100 and (np.asarray(wl.input_tokens) > 0).all(), name
        else:
            inp, out = W._lengths_uncached(name)
            assert len(inp) == len(out) > 100 and (np.asarray(inp) > 0).all(), name


@pytest.mark.parametrize("name, reuse", [("mooncake-conversation", 0.366), ("mooncake-synthetic", 0.640)])
def test_mooncake_hash_ids(name, reuse):
    """mooncake_fast25/SOURCE.md: len(hash_ids) == ceil(input_length/512) on every row; block reuse 36.6 % / 64.0 %."""
    wl = load_trace(name)
    assert wl.hash_block_tokens == 512
    assert wl.block_hashes is not None and len(wl.block_hashes) == len(wl)
    lens = np.array([len(h) for h in wl.block_hashes])
    assert np.array_equal(lens, -(-wl.input_tokens // 512))
    flat = [h for row in wl.block_hashes for h in row]
    assert 1 - len(set(flat)) / len(flat) == pytest.approx(reuse, abs=0.001)


def test_azure_has_no_hashes():
    wl = load_trace("azure-code-2023")
    assert wl.block_hashes is None and wl.hash_block_tokens == 0


SHARED_FILES = {
    "azure-conv-2023": "azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
    "azure-code-2023": "azure_llm_2023/AzureLLMInferenceTrace_code.csv",
    "mooncake-conversation": "mooncake_fast25/conversation_trace.jsonl",
    "mooncake-synthetic": "mooncake_fast25/synthetic_trace.jsonl",
    "sharegpt": "sharegpt_lengths/sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
    "arxiv-summarization": "arxiv_summarization_lengths/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
}


@pytest.mark.skipif(not SHARED_TRACES.is_dir(), reason="shared/data/traces not present")
@pytest.mark.parametrize("name", list(SHARED_FILES))
def test_bundled_copy_equals_shared(name):
    original = SHARED_TRACES / SHARED_FILES[name]
    assert gzip.decompress(TRACES[name].path.read_bytes()) == original.read_bytes()
    assert (TRACES[name].path.parent / "SOURCE.md").read_bytes() == (original.parent / "SOURCE.md").read_bytes()
    if TRACES[name].kind == "trace":
        a, b = load_trace(name), load_trace(str(original))
        for key in ("arrival_s", "input_tokens", "output_tokens", "model"):
            assert np.array_equal(getattr(a, key), getattr(b, key)), key
        assert a.block_hashes == b.block_hashes and a.duration_s == b.duration_s
    else:
        for x, y in zip(load_lengths(name), load_lengths(str(original))):
            assert np.array_equal(x, y)


# ------------------------------------------------------------------------------------- user files


def test_generic_csv_with_models_unsorted_and_gz(tmp_path):
    text = "arrival_s,input_tokens,output_tokens,model\n105.5,10,3,llama\n100.0,20,4,qwen\n101,30,5,llama\n"
    p = tmp_path / "mine.csv.gz"
    p.write_bytes(gzip.compress(text.encode()))
    wl = load_trace(str(p))
    assert wl.arrival_s.tolist() == [0.0, 1.0, 5.5]  # sorted, shifted to start at 0
    assert wl.input_tokens.tolist() == [20, 30, 10]
    assert wl.output_tokens.tolist() == [4, 5, 3]
    assert wl.models == ("llama", "qwen")
    assert [wl.models[i] for i in wl.model] == ["qwen", "llama", "llama"]
    assert wl.name == "mine" and wl.duration_s == pytest.approx(5.5 * 3 / 2)


def test_azure_format_user_file_unsorted(tmp_path):
    p = tmp_path / "az.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04.0319600,3180,8\n"
                 "2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:05.9799600,5,1\n")
    wl = load_trace(str(p))
    assert wl.arrival_s == pytest.approx([0.0, 0.052, 2.0])
    assert wl.input_tokens.tolist() == [4808, 3180, 5]


def test_mooncake_format_user_file(tmp_path):
    p = tmp_path / "mc.jsonl"
    p.write_text('{"timestamp": 3000, "input_length": 600, "output_length": 5, "hash_ids": [0, 1]}\n\n'
                 '{"timestamp": 0, "input_length": 100, "output_length": 7, "hash_ids": [0]}\n')
    wl = load_trace(str(p))
    assert wl.arrival_s.tolist() == [0.0, 3.0]
    assert wl.block_hashes == ((0,), (0, 1)) and wl.hash_block_tokens == 512


def _write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("name, text, field, line, words", [
    ("empty.csv", "", None, None, "empty"),
    ("blank.csv", "\n  \n", None, None, "empty"),
    ("header.csv", "arrival_s,input_tokens,output_tokens\n", "header", None, "no data rows"),
    ("cols.csv", "arrival,input_tokens,output_tokens\n1,2,3\n", "header", None, "did you mean: 'arrival' -> 'arrival_s'"),
    ("azcols.csv", "TIMESTAMP,ContextTokens,GenTokens\n2023-11-16 18:17:04.0319600,3180,8\n", "header", None, "GeneratedTokens"),
    ("nonnum.csv", "arrival_s,input_tokens,output_tokens\n0,10,5\n1,ten,5\n", "input_tokens", 3, "not a whole number"),
    ("frac.csv", "arrival_s,input_tokens,output_tokens\n0,10,5.5\n", "output_tokens", 2, "not a whole number"),
    ("neg.csv", "arrival_s,input_tokens,output_tokens\n0,10,5\n1,11,6\n2,12,-3\n", "output_tokens", 4, "negative"),
    ("zero.csv", "arrival_s,input_tokens,output_tokens\n0,0,5\n", "input_tokens", 2, "zero"),
    ("time.csv", "arrival_s,input_tokens,output_tokens\n0,10,5\nsoon,10,5\n", "arrival_s", 3, "not a number"),
    ("ts.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04,1,1\nyesterday,1,1\n", "TIMESTAMP", 3, "date-time"),
    ("ragged.csv", "arrival_s,input_tokens,output_tokens\n0,10,5\n1,10\n", None, 3, "2 fields"),
    ("neg.jsonl", ('{"timestamp": 0, "input_length": 10, "output_length": 1}\n'
                   '{"timestamp": 5, "input_length": -1, "output_length": 1}\n'), "input_length", 2, "negative"),
    ("bad.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 1}\n{"timestamp": 5,\n', None, 2, "JSON"),
    ("miss.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 1}\n{"timestamp": 5, "input_length": 3}\n',
     "output_length", 2, "missing"),
    ("lengths.csv", "num_prefill_tokens,num_decode_tokens\n10,5\n", "header", None, "lengths="),
])
def test_bad_trace_files(tmp_path, name, text, field, line, words):
    path = _write(tmp_path, name, text)
    with pytest.raises(InputError) as err:
        load_trace(path)
    (problem,) = err.value.problems
    assert problem.file == path
    assert problem.field == field
    assert problem.line == line
    assert words in str(err.value)


def test_missing_file_and_unknown_name():
    with pytest.raises(InputError) as err:
        load_trace("/no/such/trace.csv")
    assert err.value.problems[0].file == "/no/such/trace.csv" and "no such file" in str(err.value)
    with pytest.raises(InputError) as err:
        load_trace("azure-conv")
    assert "did you mean 'azure-conv-2023'" in str(err.value)
    assert err.value.problems[0].field == "name_or_path" and err.value.problems[0].value == "azure-conv"
    with pytest.raises(InputError) as err:
        load_lengths("sharegpt4")
    assert "did you mean 'sharegpt'" in str(err.value) and err.value.problems[0].field == "lengths"


def test_length_table_is_not_a_trace():
    with pytest.raises(InputError) as err:
        load_trace("arxiv-summarization")
    assert "lengths='arxiv-summarization'" in str(err.value)


# ------------------------------------------------------------------------------------- arrivals


def _cv(t: np.ndarray) -> float:
    gaps = np.diff(t)
    return float(gaps.std() / gaps.mean())


def test_poisson_arrivals():
    rate, duration = 50.0, 2000.0
    t = poisson_arrivals(rate, duration, rng(1))
    expected = rate * duration
    assert abs(t.size - expected) < 3 * math.sqrt(expected)
    assert t.dtype == np.float64 and t[0] >= 0 and t[-1] < duration and np.all(np.diff(t) >= 0)
    assert _cv(t) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_gamma_arrivals(cv):
    rate, duration = 100.0, 2000.0
    t = gamma_arrivals(rate, cv, duration, rng(2))
    expected = rate * duration
    assert abs(t.size - expected) < 4 * cv * math.sqrt(expected)  # renewal count variance ~ rate*T*cv^2
    assert t[0] >= 0 and t[-1] < duration and np.all(np.diff(t) >= 0)
    assert _cv(t) == pytest.approx(cv, rel=0.10)


def test_diurnal_arrivals():
    mean, days = 1.0, 2
    duration = days * 86400.0
    t = diurnal_arrivals(mean, duration, rng(3), peak_to_trough=3.0, peak_hour=14.0)
    assert abs(t.size - mean * duration) < 3 * math.sqrt(mean * duration)
    assert t[0] >= 0 and t[-1] < duration and np.all(np.diff(t) >= 0)
    hour = (t / 3600.0) % 24
    peak = np.count_nonzero((hour >= 13) & (hour < 15))
    trough = np.count_nonzero((hour >= 1) & (hour < 3))
    # mean of 1 + a*cos over +-1 h: 1 +- a*sin(pi/12)/(pi/12), a = (3-1)/(3+1)
    a, s = 0.5, math.sin(math.pi / 12) / (math.pi / 12)
    assert peak / trough == pytest.approx((1 + a * s) / (1 - a * s), rel=0.06)
    # start_hour shifts the profile: starting at the peak, the first hour is the busiest
    t2 = diurnal_arrivals(mean, 86400.0, rng(3), start_hour=14.0)
    first, middle = np.count_nonzero(t2 < 3600), np.count_nonzero((t2 >= 12 * 3600) & (t2 < 13 * 3600))
    assert first > 2 * middle
    flat = diurnal_arrivals(mean, 86400.0, rng(4), peak_to_trough=1.0)
    h = (flat / 3600.0) % 24
    assert np.count_nonzero(h < 12) == pytest.approx(np.count_nonzero(h >= 12), rel=0.03)


def test_determinism_by_seed():
    assert np.array_equal(poisson_arrivals(5, 100, rng(7)), poisson_arrivals(5, 100, rng(7)))
    assert np.array_equal(gamma_arrivals(5, 2, 100, rng(7)), gamma_arrivals(5, 2, 100, rng(7)))
    assert np.array_equal(diurnal_arrivals(5, 1000, rng(7)), diurnal_arrivals(5, 1000, rng(7)))
    assert not np.array_equal(poisson_arrivals(5, 100, rng(7)), poisson_arrivals(5, 100, rng(8)))

    def build(seed):
        r = rng(seed)
        return synthetic(poisson_arrivals(5, 100, r), r, lengths="sharegpt", models=["a", "b"],
                         model_shares=[0.25, 0.75], duration_s=100)

    a, b = build(11), build(11)
    for key in ("arrival_s", "input_tokens", "output_tokens", "model"):
        assert np.array_equal(getattr(a, key), getattr(b, key))


@pytest.mark.parametrize("call, field", [
    (lambda r: poisson_arrivals(0, 10, r), "rate_rps"),
    (lambda r: poisson_arrivals(-1, 10, r), "rate_rps"),
    (lambda r: poisson_arrivals(1, 0, r), "duration_s"),
    (lambda r: poisson_arrivals(1, float("inf"), r), "duration_s"),
    (lambda r: gamma_arrivals(1, 0, 10, r), "cv"),
    (lambda r: gamma_arrivals(1, -2, 10, r), "cv"),
    (lambda r: gamma_arrivals(0, 1, 10, r), "rate_rps"),
    (lambda r: gamma_arrivals(1, 1, -5, r), "duration_s"),
    (lambda r: diurnal_arrivals(0, 10, r), "mean_rate_rps"),
    (lambda r: diurnal_arrivals(1, 0, r), "duration_s"),
    (lambda r: diurnal_arrivals(1, 10, r, peak_to_trough=0.5), "peak_to_trough"),
    (lambda r: poisson_arrivals(1e6, 1e6, r), "rate_rps"),
    (lambda r: scale_to_rate(load_trace("azure-code-2023"), 0), "rate_rps"),
    (lambda r: window(load_trace("azure-code-2023"), -1), "duration_s"),
    (lambda r: assign_models(load_trace("azure-code-2023"), ["a", "b"], [0.5, 0.4], r), "shares"),
    (lambda r: assign_models(load_trace("azure-code-2023"), ["a", "b"], [1.0], r), "shares"),
    (lambda r: assign_models(load_trace("azure-code-2023"), ["a", "a"], [0.5, 0.5], r), "models"),
    (lambda r: synthetic([0.0, 1.0], r), "isl"),
    (lambda r: synthetic([0.0, 1.0], r, isl=100), "osl"),
    (lambda r: synthetic([0.0, 1.0], r, isl=0, osl=10), "isl"),
    (lambda r: synthetic([0.0, 1.0], r, lengths="sharegpt", isl=10), "lengths"),
    (lambda r: synthetic([0.0, 1.0], r, isl=10, osl=10, cv_len=-1), "cv_len"),
    (lambda r: synthetic([0.0, -1.0], r, isl=10, osl=10), "arrivals"),
    (lambda r: synthetic([0.0, 1.0], r, isl=10, osl=10, max_input=0), "max_input"),
])
def test_bad_arguments_name_the_field(call, field):
    with pytest.raises(InputError) as err:
        call(rng())
    assert err.value.problems[0].field == field
    assert field in str(err.value)


def test_assign_models_share_tolerance():
    wl = load_trace("azure-conv-2023")
    out = assign_models(wl, ["a", "b", "c"], [0.2, 0.3, 0.5 + 5e-7], rng(5))  # within 1e-6: accepted
    assert out.models == ("a", "b", "c")
    n = len(out)
    for i, p in enumerate([0.2, 0.3, 0.5]):
        assert abs(np.count_nonzero(out.model == i) - n * p) < 4 * math.sqrt(n * p * (1 - p))
    assert np.array_equal(out.arrival_s, wl.arrival_s)
    with pytest.raises(InputError):
        assign_models(wl, ["a", "b"], [0.5, 0.5 + 2e-6], rng(5))


# ------------------------------------------------------------------------------------- transforms


@pytest.mark.parametrize("name", ["azure-code-2023", "mooncake-conversation"])
def test_scale_to_rate_exact_and_shape_kept(name):
    wl = load_trace(name)
    for rate in (0.5, 7.0, 123.4):
        s = scale_to_rate(wl, rate)
        assert s.mean_rate_rps == pytest.approx(rate, rel=1e-12)
        assert len(s) == len(wl)
        assert _cv(s.arrival_s) == pytest.approx(_cv(wl.arrival_s), rel=1e-9)
        assert np.array_equal(s.input_tokens, wl.input_tokens)
        assert s.block_hashes is wl.block_hashes


def test_window_repeats_and_truncates():
    wl = load_trace("mooncake-synthetic")
    short = window(wl, 600.0)
    assert short.duration_s == 600.0 and short.arrival_s[-1] < 600.0
    assert len(short) == np.count_nonzero(wl.arrival_s < 600.0)

    long = window(wl, 3600.0)
    n, period = len(wl), wl.duration_s
    assert long.duration_s == 3600.0 and long.arrival_s[-1] < 3600.0
    assert np.all(np.diff(long.arrival_s) > -1e-9)
    copies = math.ceil(3600.0 / period)
    assert len(long) == (copies - 1) * n + np.count_nonzero(wl.arrival_s + (copies - 1) * period < 3600.0)
    assert np.allclose(long.arrival_s[n:2 * n], wl.arrival_s + period)
    assert np.array_equal(long.input_tokens[n:2 * n], wl.input_tokens)
    assert long.arrival_s[n] > long.arrival_s[n - 1]  # no two copies collide at the seam
    # fresh hash ids per copy by default; identical ids with rehash=False
    second = long.block_hashes[n:2 * n]
    assert {h for r in second for h in r}.isdisjoint(h for r in wl.block_hashes for h in r)
    assert [len(r) for r in second] == [len(r) for r in wl.block_hashes]
    same = window(wl, 3600.0, rehash=False)
    assert same.block_hashes[n:2 * n] == wl.block_hashes
    # scaled then windowed: rate kept over the whole window
    w = window(scale_to_rate(load_trace("azure-conv-2023"), 20.0), 7200.0)
    assert w.mean_rate_rps == pytest.approx(20.0, rel=0.01)


def test_subset_keeps_alignment():
    wl = load_trace("mooncake-synthetic")
    mask = wl.input_tokens > 20_000
    s = wl.subset(mask)
    assert len(s) == mask.sum()
    assert np.array_equal(s.output_tokens, wl.output_tokens[mask])
    assert all(len(h) == -(-i // 512) for h, i in zip(s.block_hashes, s.input_tokens))
    picked = wl.subset([30, 10, 20])  # indices are kept in arrival order
    assert np.array_equal(picked.arrival_s, wl.arrival_s[[10, 20, 30]])
    assert picked.block_hashes == tuple(wl.block_hashes[i] for i in (10, 20, 30))
    assert picked.duration_s == wl.duration_s


def test_synthetic_from_table_and_means():
    r = rng(9)
    t = poisson_arrivals(20, 500, r)
    table_in, table_out = load_lengths("arxiv-summarization")
    wl = synthetic(t, r, lengths="arxiv-summarization", duration_s=500, name="arxiv@20")
    assert wl.name == "arxiv@20" and len(wl) == t.size and wl.duration_s == 500
    pairs = set(zip(table_in.tolist(), table_out.tolist()))
    assert all(p in pairs for p in zip(wl.input_tokens.tolist(), wl.output_tokens.tolist()))

    wl = synthetic(t, r, isl=2000, osl=300, cv_len=0.5)
    assert wl.input_tokens.mean() == pytest.approx(2000, rel=0.03)
    assert wl.output_tokens.mean() == pytest.approx(300, rel=0.03)
    assert (wl.input_tokens.std() / wl.input_tokens.mean()) == pytest.approx(0.5, rel=0.1)
    assert wl.duration_s == pytest.approx(t[-1] * t.size / (t.size - 1))

    fixed = synthetic(t, r, isl=1024, osl=128, cv_len=0)
    assert set(fixed.input_tokens.tolist()) == {1024} and set(fixed.output_tokens.tolist()) == {128}
    capped = synthetic(t, r, lengths=(table_in, table_out), max_input=1000, max_output=50)
    assert capped.input_tokens.max() <= 1000 and capped.output_tokens.max() <= 50
    tiny = synthetic(t, r, isl=1, osl=1, cv_len=2.0)
    assert tiny.input_tokens.min() >= 1 and tiny.output_tokens.min() >= 1


def test_workload_validation():
    with pytest.raises(InputError) as err:
        Workload("x", np.array([1.0, 0.5]), np.array([1, 1]), np.array([1, 1]), np.zeros(2, np.int16), duration_s=2)
    assert err.value.problems[0].field == "arrival_s"
    with pytest.raises(InputError) as err:
        Workload("x", np.array([0.0, 5.0]), np.array([1, 1]), np.array([1, 1]), np.zeros(2, np.int16), duration_s=2)
    assert err.value.problems[0].field == "duration_s"
    with pytest.raises(InputError) as err:
        Workload("x", np.array([0.0]), np.array([1]), np.array([1]), np.array([1]), models=("a",), duration_s=2)
    assert err.value.problems[0].field == "model"
    own = np.array([0.0, 1.0])
    wl = Workload("x", own, np.array([3, 4]), np.array([1, 2]), np.zeros(2, np.int16), duration_s=2)
    assert own.flags.writeable and not wl.arrival_s.flags.writeable  # the caller's array is not frozen
    assert len(wl) == 2 and wl.mean_rate_rps == 1.0
