"""Tests for minillm.rag (chapter 8): BM25 against rank_bm25.BM25Okapi, the dense index against
torch's cosine_similarity, recall and prompt assembly by hand."""

import random

import pytest
import torch
import torch.nn.functional as F

from minillm.rag import BM25, DenseIndex, assemble_prompt, recall_at_k, tokenize

rank_bm25 = pytest.importorskip("rank_bm25", reason="rank-bm25 (dev extra) is the BM25 reference")


def make_corpus(n_docs=120, seed=0):
    """Random documents over a Zipf-like vocabulary: the commonest words sit in more than half
    the documents, so their raw idf is negative and the epsilon floor is exercised."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]
    weights = [1 / (i + 1) for i in range(60)]
    docs = []
    for _ in range(n_docs):
        n = rng.randint(3, 30)
        docs.append(" ".join(rng.choices(vocab, weights, k=n)).replace("w0", "The W0"))
    return docs


@pytest.mark.parametrize("k1,b,eps", [(1.5, 0.75, 0.25), (1.2, 0.3, 0.5), (2.0, 1.0, 0.0)])
def test_bm25_scores_equal_rank_bm25(k1, b, eps):
    docs = make_corpus()
    ours = BM25(k1=k1, b=b, epsilon=eps).index(docs)
    ref = rank_bm25.BM25Okapi([tokenize(d) for d in docs], k1=k1, b=b, epsilon=eps)
    in_docs = sum("w1" in set(tokenize(d)) for d in docs)
    assert in_docs > len(docs) / 2  # 'w1' has a negative raw idf: the floor is in play
    rng = random.Random(1)
    queries = ["the w0 w1", "w5 w5 w17", "w59 w3 unknownword", "W2 w40 w41 w0", "nothing here"]
    queries += [" ".join(rng.choices([f"w{i}" for i in range(60)], k=4)) for _ in range(20)]
    for q in queries:
        expected = torch.tensor(ref.get_scores(tokenize(q)), dtype=torch.float64)
        torch.testing.assert_close(ours.scores(q), expected, atol=1e-6, rtol=0)
        top = ours.search(q, k=5)
        assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
        assert top[0][1] == pytest.approx(expected.max().item(), abs=1e-6)


def test_bm25_negative_idf_gets_the_floor():
    docs = ["cat sat", "cat ran", "cat dog", "bird"]  # 'cat' in 3 of 4 docs: raw idf < 0
    bm = BM25(epsilon=0.25).index(docs)
    ref = rank_bm25.BM25Okapi([tokenize(d) for d in docs])
    assert bm.idf["cat"] == pytest.approx(ref.idf["cat"]) and bm.idf["cat"] > 0


def test_bm25_search_ids_and_order():
    docs = {"a": "the red fox", "b": "a blue whale swims", "c": "red red wine"}
    bm = BM25().index(list(docs.values()), ids=list(docs))
    hits = bm.search("red", k=2)
    assert [h[0] for h in hits] == ["c", "a"]  # two 'red' beat one
    assert len(bm.search("red", k=10)) == 3


def test_dense_index_matches_torch_cosine():
    g = torch.Generator().manual_seed(0)
    emb, q = torch.randn(50, 16, generator=g), torch.randn(3, 16, generator=g)
    idx = DenseIndex(emb, ids=[f"d{i}" for i in range(50)])
    res = idx.search(q, k=4)
    for qi in range(3):
        ref = F.cosine_similarity(q[qi][None], emb, dim=1)
        vals, inds = ref.topk(4)
        assert [r[0] for r in res[qi]] == [f"d{i}" for i in inds.tolist()]
        torch.testing.assert_close(torch.tensor([r[1] for r in res[qi]]), vals)
    one = idx.search(q[0], k=1)
    assert one[0][0] == res[0][0][0] and one[0][1] == pytest.approx(res[0][0][1], abs=1e-6)


def test_recall_at_k():
    assert recall_at_k([3, 1, 2, 7], {1, 7}, k=2) == 0.5
    assert recall_at_k([3, 1, 2, 7], {1, 7}, k=4) == 1.0
    assert recall_at_k([3], [9], k=5) == 0.0


class WordTokenizer:
    def encode(self, text):
        return text.split()


def test_assemble_prompt_fits_budget_and_keeps_question():
    tok = WordTokenizer()
    template = "C: {context} Q: {question}"
    q = "who is the king?"
    passages = ["one two three", "four five six seven", "eight nine"]
    full = assemble_prompt(q, passages, tok, max_tokens=100, template=template, separator=" | ")
    assert full == "C: one two three | four five six seven | eight nine Q: who is the king?"
    # bare prompt: 'C:' 'Q:' + 4 question words = 6 tokens; budget 12 leaves 6 for context:
    # 'one two three' (3) + '|' + 'four five' (2) = 6
    cut = assemble_prompt(q, passages, tok, max_tokens=12, template=template, separator=" | ")
    assert cut == "C: one two three | four five Q: who is the king?"
    assert len(tok.encode(cut)) <= 12
    only_q = assemble_prompt(q, passages, tok, max_tokens=6, template=template)
    assert only_q.endswith("Q: who is the king?")
    # a callable tokenizer works too
    assert assemble_prompt(q, passages, str.split, 100, template=template, separator=" | ") == full


def test_rag_bad_input():
    with pytest.raises(ValueError, match="docs must be a non-empty list"):
        BM25().index([])
    with pytest.raises(ValueError, match="docs hold no words"):
        BM25().index(["", "!!"])
    with pytest.raises(RuntimeError, match="BM25 index is empty"):
        BM25().scores("x")
    with pytest.raises(ValueError, match="k must be an int >= 1, got 0"):
        BM25().index(["a b"]).search("a", k=0)
    with pytest.raises(ValueError, match="b must lie in"):
        BM25(b=2)
    with pytest.raises(ValueError, match="embeddings must be a non-empty"):
        DenseIndex(torch.zeros(0, 4))
    with pytest.raises(ValueError, match=r"embeddings rows \[1\] are all zeros"):
        DenseIndex(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="query must have shape .* D=2"):
        DenseIndex(torch.eye(2)).search(torch.ones(3))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        recall_at_k([1], [1], k=0)
    with pytest.raises(ValueError, match="relevant_ids is empty"):
        recall_at_k([1], [], k=1)
    with pytest.raises(ValueError, match="the question alone takes 6 tokens.*max_tokens=5"):
        assemble_prompt("who is the king?", ["p"], WordTokenizer(), 5, template="C: {context} Q: {question}")
    with pytest.raises(ValueError, match="template must contain"):
        assemble_prompt("q", [], WordTokenizer(), 5, template="{question}")
    with pytest.raises(TypeError, match="tokenizer must have an encode"):
        assemble_prompt("q", [], 42, 5)


def test_lazy_exports():
    import minillm
    from minillm import quantize, rlhf

    assert minillm.BM25 is BM25 and minillm.DenseIndex is DenseIndex
    assert minillm.Labeller is rlhf.Labeller and minillm.dpo_loss is rlhf.dpo_loss
    assert minillm.RewardHead is rlhf.RewardHead
    assert minillm.QuantLinear is quantize.QuantLinear and minillm.quantize_model is quantize.quantize_model
