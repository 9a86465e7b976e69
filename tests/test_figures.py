"""Every figure the report draws reads at a glance: no text overlaps another or leaves the canvas, and no two lines
of a panel look alike (the same colour and the same style)."""

import itertools

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from tools.report import Report
from tools.report.figures import figure_files

REPORT = Report()
FIGURES = figure_files(REPORT)
PICTURES = ("example_digit.png",)  # an image file that predict.py reads, not a plot


def drawn_texts(fig) -> list[tuple[str, object]]:
    """Every non-empty text that drawing the figure puts on the canvas, with its box in pixels. A text object that
    is not drawn (a tick label outside the axis's limits) is not looked at."""
    drawn = []
    draw = Text.draw

    def recording(self, renderer):
        draw(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self.get_text(), self.get_window_extent(renderer)))

    Text.draw = recording
    try:
        fig.canvas.draw()
    finally:
        Text.draw = draw
    return drawn


def overlaps(a, b, slack: float = 0.5) -> bool:
    return a.x0 + slack < b.x1 and b.x0 + slack < a.x1 and a.y0 + slack < b.y1 and b.y0 + slack < a.y1


def problems(fig) -> list[str]:
    found = drawn_texts(fig)
    canvas = fig.bbox
    out = [
        f"{text!r} leaves the canvas"
        for text, box in found
        if box.x0 < canvas.x0 - 1 or box.y0 < canvas.y0 - 1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1
    ]
    out += [
        f"{a!r} overlaps {b!r}" for (a, abox), (b, bbox) in itertools.combinations(found, 2) if overlaps(abox, bbox)
    ]
    for ax in fig.axes:
        looks = [(str(line.get_color()), line.get_linestyle()) for line in ax.get_lines() if line.get_visible()]
        out += [f"two lines of {ax.get_title()!r} are both {look}" for look in set(looks) if looks.count(look) > 1]
    return out


@pytest.mark.parametrize("name", sorted(set(FIGURES) - set(PICTURES)))
def test_the_figure_reads_at_a_glance(name):
    made = FIGURES[name]()
    try:
        assert problems(made) == []
    finally:
        plt.close(made)


def test_the_check_sees_an_overlap_and_a_text_off_the_canvas():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], color="red")
    ax.plot([0, 1], [1, 0], color="red")
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another label")
    fig.text(0.98, 0.5, "far to the right")
    found = problems(fig)
    plt.close(fig)
    assert any("overlaps" in p for p in found)
    assert any("'far to the right' leaves the canvas" in p for p in found)
    assert any("both" in p for p in found)
