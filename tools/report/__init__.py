"""Turn results/*.json into the README's tables and the figures in docs/generated/figures/.

    python -m tools.report           # rewrite the generated parts of README.md and the figures
    python -m tools.report --check   # exit 1 if README.md or a figure differs from what results/ gives

Only the parts of README.md between <!-- generated:NAME --> and <!-- /generated:NAME --> are
written; everything else in it is left as it is. The blocks are made by ``claims`` (the test set),
``search_tables`` (the validation split) and ``extras`` (what the tools measured); ``figures`` draws
and fingerprints the figures; ``documents`` writes and checks them.
"""

from tools.report.documents import README, blocks, check, main, render_readme
from tools.report.figures import drawn_figures, fingerprint, write_figures
from tools.report.results import FIGURES, Report

__all__ = [
    "FIGURES",
    "README",
    "Report",
    "blocks",
    "check",
    "drawn_figures",
    "fingerprint",
    "main",
    "render_readme",
    "write_figures",
]
