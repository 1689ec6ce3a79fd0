"""The course's machinery, apart from the language model itself.

- :mod:`minillm.course.exercises`: make exercise notebooks from solution notebooks.
- :mod:`minillm.course.book`: the manifest ``book.yml`` (imports ``exercises`` to check sync).
- :mod:`minillm.course.site`: the HTML book (imports ``book`` and :mod:`minillm.viz`).
- :mod:`minillm.course.checks`: the check helpers exercise notebooks call.

Imports run one way: ``exercises`` <- ``book`` <- ``site``; the LLM core never imports this
package.
"""
