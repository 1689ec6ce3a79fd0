"""Chapter 8's exercise checks reject the wrong answers a careless or cheating learner would try,
with a message that says what is wrong (run through the solutions notebook by the harness), and
accept the committed solutions."""

import pytest
from exercise_harness import Wrong, ids, run_right, run_wrong

import minillm.course.checks_hallucination as ch

NB = "solutions/08-hallucination.ipynb"

WRONG = [
    # 8.1 ECE
    Wrong("8.1", "return abs(correct.float().mean().item() - confidences.float().mean().item())",
          "should be", name="one global gap, no bins"),
    Wrong("8.1", "return 0.0", "should be", name="a constant"),
    Wrong("8.1", """
conf = torch.as_tensor(confidences, dtype=torch.float64)
corr = torch.as_tensor(correct, dtype=torch.float64)
idx = (torch.ceil(conf * 15).long() - 1).clamp(0, 14)
return sum((idx == m).double().mean().item() * abs(corr[idx == m].mean().item() - conf[idx == m].mean().item())
           for m in range(15) if (idx == m).any())""", "n_bins=", name="ignores n_bins"),
    Wrong("8.1", """
conf = torch.as_tensor(confidences, dtype=torch.float64)
corr = torch.as_tensor(correct, dtype=torch.float64)
idx = (conf * n_bins).long().clamp(0, n_bins - 1)
return sum((idx == m).double().mean().item() * abs(corr[idx == m].mean().item() - conf[idx == m].mean().item())
           for m in range(n_bins) if (idx == m).any())""", "edge", name="edges go to the upper bin"),
    Wrong("8.1", "from minillm.calibration import expected_calibration_error\n"
                 "return expected_calibration_error(confidences, correct, n_bins)", "library", name="calls minillm"),
    # 8.2 BM25
    Wrong("8.2", "return [sum(d.count(w) for w in query) for d in docs]", "should be", name="raw term counts"),
    Wrong("8.2", """
n_docs = len(docs)
out = []
for d in docs:
    s = 0.0
    for w in query:
        n = sum(w in o for o in docs)
        f = d.count(w)
        if n and f:
            s += math.log((n_docs - n + 0.5) / (n + 0.5)) * f * (k1 + 1) / (f + k1)
    out.append(s)
return out""", "b=", name="no length normalisation"),
    Wrong("8.2", """
n_docs = len(docs)
avgdl = sum(len(d) for d in docs) / n_docs
out = []
for d in docs:
    s = 0.0
    for w in set(query):
        n = sum(w in o for o in docs)
        f = d.count(w)
        if n and f:
            s += math.log((n_docs - n + 0.5) / (n + 0.5)) * f * (k1 + 1) / (f + k1 * (1 - b + b * len(d) / avgdl))
    out.append(s)
return out""", "repeated", name="counts a repeated query word once"),
    Wrong("8.2", "from minillm.rag import BM25\n"
                 "return BM25(k1=k1, b=b, epsilon=0.0, tokenizer=str.split).index([' '.join(d) for d in docs])"
                 ".scores(' '.join(query)).tolist()", "library", name="calls minillm"),
    Wrong("8.2", "return [1.0] * (len(docs) - 1)", "scores for", name="one score short"),
    # 8.3 recall
    Wrong("8.3", "return float(any(r in retrieved[:k] for r in relevant))", "should be", name="hit rate, not recall"),
    Wrong("8.3", "return sum(r in retrieved for r in set(relevant)) / len(set(relevant))", "FIRST k",
          name="ignores k"),
    Wrong("8.3", "return sum(r in retrieved[:k] for r in set(relevant)) / k", "should be",
          name="divides by k (precision)"),
    Wrong("8.3", "from minillm.rag import recall_at_k\nreturn recall_at_k(retrieved, relevant, k)", "library",
          name="calls minillm"),
    # 8.4 prompt assembly
    Wrong("8.4", """
prompt = f"Context: {' '.join(passages)} Question: {question}"
return ' '.join(prompt.split()[-max_tokens:])""", "whole question|too long|should be", name="cuts from the left"),
    Wrong("8.4", """
kept = []
for p in passages:
    if count(f"Context: {' '.join(kept + [p])} Question: {question}") <= max_tokens:
        kept.append(p)
    else:
        break
return f"Context: {' '.join(kept)} Question: {question}\"""", "should be|ValueError", name="drops the partial passage"),
    Wrong("8.4", """
kept = []
for p in passages:
    if count(f"Context: {' '.join(kept + [p])} Question: {question}") <= max_tokens:
        kept.append(p)
return f"Context: {' '.join(kept)} Question: {question}\"""", "should be|ValueError", name="skips instead of cutting"),
    Wrong("8.4", "from minillm.rag import assemble_prompt\n"
                 "return assemble_prompt(question, passages, count, max_tokens, "
                 "template='Context: {context} Question: {question}', separator=' ')", "library",
          name="calls minillm"),
    # 8.5 abstention threshold
    Wrong("8.5", "return 1.0", "too low|should|below|answers", name="a constant", error=AssertionError),
    Wrong("8.5", "return float(torch.as_tensor(confidences).max())", "LOWEST", name="the highest confidence"),
    Wrong("8.5", """
conf = torch.as_tensor(confidences, dtype=torch.float64)
corr = torch.as_tensor(correct, dtype=torch.float64)
for t in sorted(set(conf.tolist()), reverse=True):
    if corr[conf >= t].mean().item() < target:
        return prev
    prev = t
return prev""", "LOWEST|too low", name="stops at the first dip"),
    Wrong("8.5", """
conf = torch.as_tensor(confidences, dtype=torch.float64)
return float(conf.quantile(1 - target))""", "too low|LOWEST", name="a quantile of the confidences"),
    Wrong("8.5", "from minillm.calibration import threshold_for_precision\n"
                 "return threshold_for_precision(confidences, correct, target)", "library", name="calls minillm"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
def test_wrong_answer_is_rejected(wrong):
    run_wrong(NB, wrong, skip=("8.6",))


@pytest.mark.parametrize("exercise", ["8.1", "8.2", "8.3", "8.4", "8.5"])
def test_solution_passes(exercise):
    run_right(NB, exercise, skip=("8.6",))


def test_project_report_check():
    good = {"what": "one passage per fact as the answer", "before": 0.05, "after": 0.5, "n_questions": 40}
    ch.check_project(good)
    bad = {
        "needs a 'after'": {k: v for k, v in good.items() if k != "after"},
        "at least 40": {**good, "n_questions": 12},
        "not a count": {**good, "after": 0.512},
        "in \\[0, 1\\]": {**good, "after": 1.5},
        "in a sentence": {**good, "what": "x"},
    }
    for msg, rep in bad.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_project(rep)
