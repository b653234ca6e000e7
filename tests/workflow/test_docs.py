"""The README is a front page that links into docs/, and every link of both leads somewhere real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _prose(path: Path) -> str:
    return FENCE.sub("", path.read_text(encoding="utf-8"))  # a code block's brackets are no links


def _anchor(heading: str) -> str:
    """GitHub's (and the docs site's toc) anchor of a heading: lower case, punctuation dropped."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in _prose(path).splitlines() if re.match(r"#{1,6} ", line)}


def _local_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(path)) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_local_link_names_a_file_and_heading_that_exist(document: Path) -> None:
    broken = []
    for target in _local_links(document):
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        heading_missing = anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or heading_missing:
            broken.append(target)
    assert broken == []


def test_the_readme_is_a_front_page_and_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme[readme.index("```bash\n") :].split("```")[1].splitlines()[1:]
    assert [line.split("#")[0].strip() for line in first_block] == ["make run", "make test"]
    assert len(readme.splitlines()) <= 300  # the rest lives in docs/
    for heading in ("Quick start", "Deploy", "Trigger an export", "The outcome", "Troubleshooting"):
        assert f"\n## {heading}\n" in readme


def test_every_page_of_docs_is_linked_from_the_readme_or_the_docs_index() -> None:
    linked = {
        (source.parent / target.partition("#")[0]).resolve()
        for source in (ROOT / "README.md", ROOT / "docs" / "index.md")
        for target in _local_links(source)
    }
    unlinked = [path.name for path in (ROOT / "docs").glob("*.md") if path.resolve() not in linked]
    assert unlinked == ["index.md"]
