"""The README and docs/ as a reader (and an error message) meets them: every pointer lands.

- Each ``README.md#anchor`` or ``docs/page.md#anchor`` the code prints names a file that exists
  and a heading in it.
- Each relative link in the README and docs/ resolves inside the repository, anchor included.
- No path outside the repository (a developer's machine, a sibling checkout).
- The exit-code table appears once; every docs page is linked from the README; the example
  files the README uses exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
POINTER = re.compile(r"(README\.md|docs/[A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?")
LINK = re.compile(r"\]\(([^)\s]+)\)")
NAMED = re.compile(r"README(?:\.md)?,? '([^']+)'")  # "see README, 'Fund the wallet'"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    fence = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6} (.+)$", line)):
            found.add(slug(m.group(1)))
    return found


def test_slug_follows_github() -> None:
    assert slug("Engines: cb-mpc and portable") == "engines-cb-mpc-and-portable"
    assert slug("What `send` does, stuck transactions, deposits") == (
        "what-send-does-stuck-transactions-deposits"
    )
    assert slug("tx.json") == "txjson"


def test_every_section_an_error_message_points_to_exists() -> None:
    pointers: set[tuple[str, str]] = set()
    for source in (ROOT / "mpcwallet").rglob("*.py"):
        text = source.read_text()
        for m in POINTER.finditer(text):
            pointers.add((m.group(1), m.group(2) or ""))
        for m in NAMED.finditer(text):
            pointers.add(("README.md", slug(m.group(1))))
    assert ("README.md", "engines-cb-mpc-and-portable") in pointers  # the scan finds them
    missing = []
    for path, anchor in sorted(pointers):
        page = ROOT / path
        if not page.is_file():
            missing.append(f"{path} (no such file)")
        elif anchor and anchor not in anchors(page):
            missing.append(f"{path}#{anchor} (no such heading)")
    assert not missing, f"the code points readers to {missing}"


def test_every_relative_link_resolves_inside_the_repository() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if ROOT not in (dest, *dest.parents):
                broken.append(f"{page.name}: {target} leaves the repository")
            elif not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_no_path_outside_the_repository() -> None:
    outside = re.compile(r"(?<![\w.])(/work/|/tmp/|/home/|/Users/|~/\.mpcwallet/|\.\./shared)")
    found = [
        f"{page.relative_to(ROOT)}:{n}: {line.strip()}"
        for page in PAGES
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert not found, found


def test_the_exit_code_table_appears_once_and_every_page_is_linked() -> None:
    tables = [p.name for p in PAGES if "| exit | error codes | kind |" in p.read_text()]
    assert tables == ["commands.md"], tables
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in DOCS if f"](docs/{p.name})" not in readme]
    assert not unlinked, f"the README does not link {unlinked}"
    for example in re.findall(r"\bexamples/[\w.-]+", readme):
        assert (ROOT / example).is_file(), example


def test_the_readme_fits_the_first_hour() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 220


def test_gitignore_covers_what_the_walk_writes() -> None:
    """The README's walk writes .demo/, tx.json, sig.json (and t.json) in the root; the test
    command writes .tools/. None of them may end up in a commit; examples/tx.json must."""
    rules = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert {".demo/", ".tools/", "/tx.json", "/sig.json", "/t.json"} <= rules
    assert "tx.json" not in rules  # unanchored, it would hide examples/tx.json
    readme = (ROOT / "README.md").read_text()
    for written in ("--out tx.json", "--out sig.json", '"$PWD/.demo"', ".tools/node_modules"):
        assert written in readme, written
