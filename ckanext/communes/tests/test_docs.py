"""The documentation keeps its house: README stays the front door, every option is documented once."""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
DECLARATION = ROOT / "ckanext" / "communes" / "config_declaration.yml"
DOCS = ROOT / "docs"


def declared_options() -> list[str]:
    declaration = yaml.safe_load(DECLARATION.read_text(encoding="utf-8"))
    return [option["key"] for group in declaration["groups"] for option in group["options"]]


def test_every_declared_option_has_one_row_in_the_configuration_page() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    options_section = page.split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \|", options_section, flags=re.MULTILINE)
    options = declared_options()
    assert options, "no option read from config_declaration.yml"
    assert sorted(set(options) - set(rows)) == [], "declared but not documented"
    assert sorted(set(rows) - set(options)) == [], "documented but not declared"
    assert sorted(row for row in rows if rows.count(row) > 1) == [], "documented twice"


def test_readme_is_a_front_door_that_links_to_existing_pages() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    assert "make test" in readme and "make run" in readme
    for target in re.findall(r"\]\((docs/[a-z-]+\.md)", readme):
        assert (ROOT / target).is_file(), target


def test_no_section_heading_is_written_twice_across_the_docs() -> None:
    headings: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        fenced = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                headings.setdefault(line[3:].strip().lower(), []).append(page.name)
    assert {title: pages for title, pages in headings.items() if len(pages) > 1} == {}
