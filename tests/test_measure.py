"""minillm.measure.PeakMemory against torch.profiler's own memory accounting (chapter 2)."""

from __future__ import annotations

import torch
from torch.profiler import ProfilerActivity, profile

from minillm.attention import scaled_dot_product_attention
from minillm.measure import PeakMemory


def _profiler_peak(fn, *args, **kwargs) -> int:
    """Peak bytes alive from torch.profiler's allocation and free events, in time order."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(*args, **kwargs)
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def test_peak_memory_matches_the_profiler_on_attention():
    q, k, v = torch.randn(3, 1, 2, 96, 16).unbind(0)
    with torch.no_grad():
        with PeakMemory() as mem:
            out = scaled_dot_product_attention(q, k, v, causal=True)
        assert mem.peak == _profiler_peak(scaled_dot_product_attention, q, k, v, causal=True)
    # the (2, 96, 96) float32 weights are bigger than anything else, and the output survives
    assert mem.peak > 2 * 96 * 96 * 4
    assert mem.live == out.untyped_storage().nbytes()


def test_views_and_inputs_are_free_and_frees_are_counted():
    x = torch.randn(64, 64)
    with PeakMemory() as mem:
        x.t()                     # a view: no new storage
        x.mul_(2)                 # in place: no new storage
    assert mem.peak == 0
    with PeakMemory() as mem:
        for _ in range(3):
            y = x * 2             # each new product replaces (and frees) the previous one
        del y
    assert mem.peak <= 2 * 64 * 64 * 4 and mem.live == 0
