"""The README reads in five minutes: short, the results and Colab first, no sentence over 60 words."""

import re

from utils.paths import REPO

README = (REPO / "README.md").read_text()
MAX_LINES, FIRST_LINES, MAX_WORDS = 300, 60, 60


def prose(text: str) -> list[str]:
    """The paragraphs of a markdown text (a heading or a list item is one of its own), without code blocks,
    tables, images and HTML tags."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    kept = []
    for line in text.splitlines():
        if line.lstrip().startswith(("|", "![", "<!--")):
            line = ""
        if re.match(r"\s*(#|- |\* |\d+\. )", line):
            kept.append("")  # a new block starts here
        kept.append(re.sub(r"<[^>]+>", " ", line))
    return [" ".join(p.split()) for p in "\n".join(kept).split("\n\n") if p.strip()]


def sentences(text: str) -> list[str]:
    """Sentences end at ., ! or ? before a space and a capital, a digit, a backtick or an asterisk."""
    found = []
    for paragraph in prose(text):
        found += re.split(r"(?<=[.!?])\s+(?=[A-Z0-9`*(-])", paragraph)
    return found


def test_the_readme_is_at_most_300_lines():
    assert len(README.splitlines()) <= MAX_LINES


def test_the_results_and_the_colab_section_come_first():
    first = "\n".join(README.splitlines()[:FIRST_LINES])
    assert "<!-- generated:targets -->" in first and "<!-- /generated:targets -->" in first
    assert "## Run it in Colab" in first and "<!-- /generated:notebooks -->" in first


def test_no_sentence_runs_over_60_words():
    long = [s for s in sentences(README) if len(s.split()) > MAX_WORDS]
    assert long == [], long


def test_the_sentence_counter_sees_a_long_sentence():
    text = "Short one. " + " ".join(["Word"] * 61) + ". Another short one.\n- A list item. And its second sentence."
    assert [len(s.split()) for s in sentences(text)] == [2, 61, 3, 4, 4]
