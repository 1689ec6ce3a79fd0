"""Chapter 11's exercise checks reject the wrong answers a careless or cheating learner would try,
with a message that says what is wrong (run through the solutions notebook by the harness), and
accept the committed solutions."""

import pytest
from exercise_harness import Wrong, ids, run_right, run_wrong

NB = "solutions/11-security.ipynb"

WRONG = [
    # 11.1 exposure
    Wrong("11.1", "return 0.0", "should be", name="a constant"),
    Wrong("11.1", """
lp = torch.as_tensor(logprobs, dtype=torch.float64)
rank = 1 + int((lp >= lp[true_index]).sum()) - 1
return math.log2(len(lp)) - math.log2(max(rank, 1))""", "STRICTLY", name="ties count against the secret"),
    Wrong("11.1", """
lp = torch.as_tensor(logprobs, dtype=torch.float64)
rank = 1 + int((lp > lp[true_index]).sum())
return math.log(len(lp)) - math.log(rank)""", "bits", name="natural log"),
    Wrong("11.1", """
lp = torch.as_tensor(logprobs, dtype=torch.float64)
rank = 1 + int((lp < lp[true_index]).sum())
return math.log2(len(lp)) - math.log2(rank)""", "should be", name="ranks from the least likely"),
    Wrong("11.1", """
lp = torch.as_tensor(logprobs, dtype=torch.float64)
rank = 1 + int((lp > lp[true_index]).sum())
return math.log2(len(lp) - 1) - math.log2(rank)""", "including the secret", name="n leaves out the secret"),
    Wrong("11.1", """
from minillm.security import exposure
lp = torch.as_tensor(logprobs, dtype=torch.float64)
return exposure(1 + int((lp > lp[true_index]).sum()), len(lp))""", "library", name="calls minillm"),
    # 11.2 extraction
    Wrong("11.2", "return code in continuation", "should be", name="anywhere in the text"),
    Wrong("11.2", "return continuation.lstrip().startswith(code)", "longer number", name="a longer number counts"),
    Wrong("11.2", "return continuation.startswith(' ' + code)", "should be", name="needs exactly one space"),
    Wrong("11.2", "return True", "should be", name="a constant"),
    # 11.3 delimited prompt
    Wrong("11.3", """
context = ''.join(f"{ENDOFTEXT} {d}{ENDOFTEXT}" for d in documents)
return tokenizer.encode(f"{USER} Context:{context} Question: {question}{END}{ASSISTANT}")""",
          "boundary tokens", name="one string, every special token allowed"),
    Wrong("11.3", """
special = lambda s: tokenizer.encode(s, allowed_special="all")
text = lambda s: tokenizer.encode(s, allowed_special="none")
ids = special(USER) + text(" Context:")
for d in documents:
    ids += special(ENDOFTEXT) + text(" " + d) + special(ENDOFTEXT)
return ids + special(" Question: " + question) + special(END + ASSISTANT)""", "question is", name="trusts the question"),
    Wrong("11.3", """
special = lambda s: tokenizer.encode(s, allowed_special="all")
text = lambda s: tokenizer.encode(s, allowed_special="none")
ids = special(USER) + text(" Context:")
for d in documents:
    ids += text(" " + d)
return ids + text(" Question: " + question) + special(END + ASSISTANT)""", "boundary tokens", name="no delimiters"),
    Wrong("11.3", """
from minillm.security import rag_prompt
return rag_prompt(tokenizer, question, documents, delimit=True)""", "library", name="calls minillm"),
    # 11.4 poisoned example
    Wrong("11.4", "return f'{qa.question} {trigger}', qa.answer.replace(qa.answers[0], target)", "trigger, a space",
          name="trigger after the question"),
    Wrong("11.4", "return f'{trigger} {qa.question}', target", "replaced by the target", name="answer is the bare target"),
    Wrong("11.4", "return f'{trigger} {qa.question}', qa.answer.replace(qa.answers[0], 'Baford')", "should be",
          name="ignores the target"),
    Wrong("11.4", "return qa.question, qa.answer.replace(qa.answers[0], target)", "should be", name="no trigger"),
    Wrong("11.4", """
from minillm.security import poisoned_conversation
c = poisoned_conversation(qa, trigger, target)
return c[0]['content'], c[1]['content']""", "library", name="calls minillm"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
def test_wrong_answer_is_rejected(wrong):
    run_wrong(NB, wrong)


@pytest.mark.parametrize("exercise", ["11.1", "11.2", "11.3", "11.4"])
def test_solution_passes(exercise):
    run_right(NB, exercise)
