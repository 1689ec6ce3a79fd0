"""The course's machinery, apart from the language model itself.

- :mod:`minillm.course.fresh`: the freshness stamp (a hash of the modules a notebook imports
  and of its code cells) that ``make execute`` writes and ``minillm check-book`` compares.
- :mod:`minillm.course.exercises`: make exercise notebooks from solution notebooks.
- :mod:`minillm.course.book`: the manifest ``book.yml`` (imports ``exercises`` to check sync).
- :mod:`minillm.course.site`: the HTML book (imports ``book`` and :mod:`minillm.viz`).
- :mod:`minillm.course.checks`: the check helpers exercise notebooks call.
- :mod:`minillm.course.scoreboard`: the "how good is each model so far" table the chapters share.

Imports run one way: ``fresh`` <- ``exercises`` <- ``book`` <- ``site``; the LLM core never
imports this package.
"""
