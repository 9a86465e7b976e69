"""The maintainers' tools, run from the repository's top folder as modules: ``python -m tools.report``,
``python -m tools.search``, ``python -m tools.benchmark``, ``python -m tools.mutate``, ``python -m
tools.make_notebooks``, ``python -m tools.run_notebooks``, ``python -m tools.fork``, ``python -m
tools.check_notebook``, ``python -m tools.export`` and ``python -m tools.page``. Nothing here is needed to train,
predict or run a notebook."""

from tools import search_blocks  # noqa: F401  the search's layer tokens, so that every tool reads its recorded runs
