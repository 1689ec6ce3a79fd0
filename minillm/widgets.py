"""Interactive widgets for the chapters (a leaf module: ipywidgets is imported here, never by the core).

Each chapter's helpers sit under a comment naming the chapter. Every widget has a function that
returns plain HTML (or a figure) for the same view, so a notebook can store a static rendering
that the HTML book shows.
"""

from __future__ import annotations

import html

# --- chapter 1: Tokenization

TOKEN_COLOURS = ("#fde2e4", "#dbe9e4", "#dfe7fd", "#fff1c1", "#e9d8fd", "#d8f3dc", "#ffd6a5", "#cde7f0")


def render_tokens_html(tokenizer, text: str, max_tokens: int = 1500) -> str:
    """HTML showing ``text`` cut into coloured tokens, each with its id below, and the token count.

    ``tokenizer`` is any :mod:`minillm.tokenizer` tokenizer (``encode`` and ``token_str``).
    Spaces show as "␣", newlines as "↵" and tabs as "⇥" so that they can be seen; bytes that
    are not a whole character show as ``\\xNN``.
    """
    ids = tokenizer.encode(text)
    spans = []
    for k, i in enumerate(ids[:max_tokens]):
        shown = tokenizer.token_str(i).replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
        spans.append(
            '<span style="display:inline-block;margin:1px;padding:0 3px;border-radius:3px;'
            f'background:{TOKEN_COLOURS[k % len(TOKEN_COLOURS)]};font-family:monospace;text-align:center">'
            f'{html.escape(shown)}<br><sub style="color:#555">{i}</sub></span>'
        )
    more = f", showing the first {max_tokens}" if len(ids) > max_tokens else ""
    head = f"<div><b>{len(ids)} tokens</b> for {len(text)} characters ({len(text.encode('utf-8'))} bytes{more})</div>"
    return head + '<div style="line-height:2.4">' + "".join(spans) + "</div>"


def tokenizer_playground(tokenizers: dict, text: str = "Hello world! Tokenizers split 12345 oddly.", show: bool = True):
    """A text box and a dropdown of tokenizers; shows the text as coloured tokens with ids and count.

    ``tokenizers`` maps a label (``"characters"``, ``"BPE 1024"``...) to a tokenizer. Returns
    the widget box; with ``show=True`` (the default) it is also displayed. Characters a
    character tokenizer has never seen are reported instead of raising.
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not tokenizers:
        raise ValueError("tokenizer_playground needs at least one tokenizer, e.g. {'bytes': ByteTokenizer()}")
    box = widgets.Textarea(value=text, description="Text", layout=widgets.Layout(width="95%", height="80px"))
    choice = widgets.Dropdown(options=list(tokenizers), description="Tokenizer")
    out = widgets.HTML()

    def update(_=None):
        try:
            out.value = render_tokens_html(tokenizers[choice.value], box.value)
        except ValueError as exc:  # e.g. a character the character tokenizer never saw
            out.value = f"<div style='color:#a00'>{html.escape(str(exc))}</div>"

    box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    ui = widgets.VBox([choice, box, out])
    if show:
        display(ui)
    return ui


# --- chapter 2: attention


def attention_explorer(get_maps, text: str, show: bool = True):
    """Explore attention patterns: a text box, layer and head sliders, and a heatmap.

    ``get_maps(text)`` returns ``(maps, tokens)``: the weights ``(L, H, T, T)`` of one sequence
    (e.g. ``model.attention_weights(ids)[:, 0]``) and the ``T`` token strings that label the
    axes. Returns the widget box; with ``show=True`` it is also displayed. For a static view
    (what the HTML book stores), call :func:`minillm.viz.plot_attention` directly.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .viz import plot_attention

    maps, tokens = get_maps(text)
    n_layer, n_head = int(maps.shape[0]), int(maps.shape[1])
    box = widgets.Text(value=text, description="Text", continuous_update=False,
                       layout=widgets.Layout(width="95%"))
    layer = widgets.IntSlider(value=0, min=0, max=n_layer - 1, description="layer")
    head = widgets.IntSlider(value=0, min=0, max=n_head - 1, description="head")
    out = widgets.Output()
    state = {"maps": maps, "tokens": tokens}

    def new_text(_=None):
        try:
            state["maps"], state["tokens"] = get_maps(box.value)
        except ValueError as exc:  # e.g. a text longer than the model's context
            with out:
                out.clear_output(wait=True)
                print(f"cannot show this text: {exc}")
            return
        redraw()

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            plot_attention(state["maps"][layer.value, head.value], state["tokens"],
                           title=f"layer {layer.value}, head {head.value}")
            plt.show()

    box.observe(new_text, names="value")
    layer.observe(redraw, names="value")
    head.observe(redraw, names="value")
    redraw()
    ui = widgets.VBox([box, widgets.HBox([layer, head]), out])
    if show:
        display(ui)
    return ui


# --- chapter 7: RLHF


def _answer_box(title: str, text: str) -> str:
    shown = html.escape(text) if text.strip() else "<i>(empty answer)</i>"
    return (f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px;margin:2px'>"
            f"<b>{title}</b><br><span style='font-family:monospace'>{shown}</span></div>")


class LabellingWidget:
    """Label answer pairs yourself: a prompt, two answers, and buttons left / right / skip (chapter 7.1).

    ``items``: ``(prompt, answer_a, answer_b)`` triples (e.g. from
    :func:`minillm.rlhf.sample_pairs`); ``path``: the JSON file the labels go to. Each click on
    "left" or "right" records a :class:`minillm.rlhf.PreferencePair` (the clicked answer is
    ``chosen``) and rewrites the file at once (atomically), so closing the notebook loses
    nothing; "skip" moves on without a label. The same file feeds the reward model
    (:func:`minillm.rlhf.load_preferences`). ``pairs``, ``skipped`` and ``index`` tell where
    you are; ``widget`` is the ipywidgets box (shown with ``show=True``).
    """

    def __init__(self, items, path, show: bool = True):
        import ipywidgets as widgets

        from .rlhf import PreferencePair, save_preferences

        self._pair, self._save = PreferencePair, save_preferences
        self.items = [tuple(i) for i in items]
        if not self.items:
            raise ValueError("items is empty; pass (prompt, answer_a, answer_b) triples to label")
        for k, it in enumerate(self.items):
            if len(it) != 3 or not all(isinstance(x, str) for x in it):
                raise ValueError(f"items[{k}] must be a (prompt, answer_a, answer_b) triple of str, got {it!r:.80}")
            if it[1] == it[2]:
                raise ValueError(f"items[{k}] has two identical answers ({it[1]!r}); there is nothing to choose")
        self.path = path
        self.pairs: list = []
        self.skipped = 0
        self.index = 0
        self.prompt = widgets.HTML()
        self.answers = widgets.HTML()
        self.left = widgets.Button(description="left is better", button_style="info")
        self.right = widgets.Button(description="right is better", button_style="info")
        self.skip = widgets.Button(description="skip")
        self.status = widgets.HTML()
        self.left.on_click(lambda _: self._choose(0))
        self.right.on_click(lambda _: self._choose(1))
        self.skip.on_click(lambda _: self._choose(None))
        self.widget = widgets.VBox([self.prompt, self.answers,
                                    widgets.HBox([self.left, self.right, self.skip]), self.status])
        self._show()
        if show:
            from IPython.display import display

            display(self.widget)

    @property
    def done(self) -> bool:
        return self.index >= len(self.items)

    def _choose(self, side) -> None:
        if self.done:
            return
        prompt, a, b = self.items[self.index]
        if side is None:
            self.skipped += 1
        else:
            chosen, rejected = (a, b) if side == 0 else (b, a)
            self.pairs.append(self._pair(prompt, chosen, rejected))
            self._save(self.pairs, self.path)
        self.index += 1
        self._show()

    def html(self) -> str:
        """The current item as static HTML (what a stored notebook shows)."""
        if self.done:
            return f"<p>All {len(self.items)} items seen: {len(self.pairs)} labelled, {self.skipped} skipped.</p>"
        prompt, a, b = self.items[self.index]
        return (f"<p><b>Prompt</b> ({self.index + 1}/{len(self.items)}): {html.escape(prompt)}</p>"
                f"<div style='display:flex'>{_answer_box('left', a)}{_answer_box('right', b)}</div>")

    def _show(self) -> None:
        if self.done:
            self.prompt.value, self.answers.value = self.html(), ""
            for b in (self.left, self.right, self.skip):
                b.disabled = True
        else:
            prompt, a, b = self.items[self.index]
            self.prompt.value = (f"<b>Prompt</b> ({self.index + 1}/{len(self.items)}): "
                                 f"{html.escape(prompt)}")
            self.answers.value = f"<div style='display:flex'>{_answer_box('left', a)}{_answer_box('right', b)}</div>"
        self.status.value = f"{len(self.pairs)} labelled, {self.skipped} skipped, saved to {html.escape(str(self.path))}"


def labelling_widget(items, path, show: bool = True) -> LabellingWidget:
    """Make (and show) a :class:`LabellingWidget` for ``items`` that saves labels to ``path``."""
    return LabellingWidget(items, path, show=show)
