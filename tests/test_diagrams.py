"""minillm.diagrams: each chapter's diagram draws, labels what the chapter names, and closes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from minillm import diagrams  # noqa: E402


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


@pytest.mark.parametrize("draw, words", [
    (lambda: diagrams.attention(("a", "b", "c")), ["query", "key", "value", "-inf", "causal mask"]),
    (lambda: diagrams.heads(12, 3), ["head 0", "head 2", "channels 8..11"]),
    (lambda: diagrams.block(4), ["attention", "MLP", "norm", "residual stream", "n_layer = 4", "LN(x + f(x))"]),
    (diagrams.training_loop, ["batch", "forward", "backward", "clip", "AdamW"]),
])
def test_diagram_names_its_parts(draw, words):
    fig = draw()
    try:
        text = _texts(fig)
        for w in words:
            assert w in text, f"the diagram should show {w!r}; it shows: {text[:200]}"
    finally:
        plt.close(fig)


def test_attention_diagram_masks_exactly_the_future():
    fig = diagrams.attention(("w0", "w1", "w2", "w3"))
    try:
        cells = [t.get_text() for t in fig.axes[0].texts if t.get_text() == "-inf"]
        assert len(cells) == 4 * 3 // 2          # the strict upper triangle of a 4 x 4 grid
    finally:
        plt.close(fig)
