"""The docs stay true to the tree: README.md, ARCHITECTURE.md and docs/*.md.

Which text is taken for a repository path (the rule the docs follow):

- an inline code span (`...`) made only of letters, digits and ``_ . / : -``, or, in a
  span with other characters (a command, a placeholder such as ``<name>``) and in a
  fenced code block, each such run of characters that holds a ``/``;
- that starts with ``personframes/``, ``tests/``, ``bench/``, ``docs/`` or ``.ci/``
  (relative to the repository's root), or whose first folder is a subpackage of
  ``personframes`` (``restore/loading.py``, ``models/bundled/``: relative to
  ``personframes/``), or that is a bare ``name.py`` (a module of ``personframes/``), or a
  dotted ``personframes.x.y`` name (inline only).

Such a path must exist: a folder when it ends with ``/``; a module may be written
without ``.py`` (``analyze/tracking``); ``module.Name`` (``state/video.VideoState``)
needs ``Name`` defined at the start of a line of the module (``def``, ``class`` or an
assignment); ``tests/file.py::test_name`` needs that test. Text outside these forms
(``OUT/.personframes/...``, ``out/``, ``~/.cache/...``) is not checked.

Also: README.md is under 200 lines and links every page of docs/; each page starts
with its title and a one-line summary; every relative link between the pages leads to
a file and heading that exist; ARCHITECTURE.md's Layers table lists the layers exactly
as ``[tool.importlinter]`` in pyproject.toml does; and the registries' ids match the
Literals of ``personframes/config.py`` that the recipes tell a newcomer to extend.
Nothing here loads a model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "personframes"
DOCS = REPO / "docs"
README = REPO / "README.md"
ARCHITECTURE = REPO / "ARCHITECTURE.md"
ROOTS = ("personframes/", "tests/", "bench/", "docs/", ".ci/")
SUBPACKAGES = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
FENCE = re.compile(r"^(```|~~~)")
PLAIN = re.compile(r"[\w./:-]+")


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def split_text(text: str) -> tuple[list[str], list[str]]:
    """The inline code spans outside fenced blocks, and the fenced blocks' lines."""
    fenced: list[str] = []
    inside = False
    prose: list[str] = []
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        (fenced if inside else prose).append(line)
    # A code span may wrap onto the next line: join the prose first.
    spans = [s.strip() for s in re.findall(r"(?<!`)`([^`]+)`(?!`)", "\n".join(prose))]
    return spans, fenced


def defines(module: Path, name: str) -> bool:
    pattern = rf"^\s*(def|class)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*[:=]"
    return re.search(pattern, module.read_text(encoding="utf-8"), re.MULTILINE) is not None


def module_file(base: Path, rel: str) -> Path | None:
    """``rel`` (no suffix) as a module file or package of ``base``, if it is one."""
    for candidate in (base / f"{rel}.py", base / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_dotted(span: str) -> str | None:
    """``personframes.a.b.Name``: a module, then maybe one name it defines."""
    parts = span.split(".")
    for i in range(len(parts), 1, -1):
        found = module_file(REPO, "/".join(parts[:i]))
        if found is not None:
            rest = parts[i:]
            if rest and not defines(found, rest[0]):
                return f"{span}: {found.relative_to(REPO)} defines no {rest[0]}"
            return None
    return f"{span}: no such module"


def check_path(text: str) -> str | None:
    """None when ``text`` is no repository path or names one that exists; else why not."""
    text, _, test = text.partition("::")
    text = text.rstrip(".,:;")
    if not PLAIN.fullmatch(text) or ":" in text:
        return None
    if text.startswith("personframes.") and "/" not in text:
        return check_dotted(text)
    if text.startswith(ROOTS):
        base = REPO
    elif text.split("/")[0] in SUBPACKAGES or re.fullmatch(r"\w+\.py", text):
        base = PKG  # a module path relative to personframes/
    else:
        return None
    where = f"{text} ({'the repository' if base == REPO else 'personframes/'})"
    if text.endswith("/"):
        return None if (base / text).is_dir() else f"{where}: no such folder"
    if (base / text).exists():
        if test and not defines(base / text, test):
            return f"{where}: no test {test}"
        return None
    folder, _, last = text.rpartition("/")
    module, dot, name = last.partition(".")
    found = module_file(base, f"{folder}/{module}" if folder else module)
    if found is None:
        return f"{where}: no such file"
    if dot and not defines(found, name.split(".")[0]):
        return f"{where}: {found.relative_to(REPO)} defines no {name.split('.')[0]}"
    return None


@pytest.mark.parametrize(
    "doc", [README, ARCHITECTURE, *pages()], ids=lambda p: str(p.relative_to(REPO))
)
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    spans, fenced = split_text(doc.read_text(encoding="utf-8"))
    whole = [s for s in spans if PLAIN.fullmatch(s)]
    parts = fenced + [s for s in spans if not PLAIN.fullmatch(s)]
    tokens = [t for line in parts for t in PLAIN.findall(line) if "/" in t]
    problems = {p for text in [*whole, *tokens] if (p := check_path(text)) is not None}
    assert not problems, "\n".join(sorted(problems))


def test_the_path_rule_checks_what_it_says() -> None:
    """The rule itself: real paths pass, wrong ones are caught, other text is left alone."""
    for real in (
        "restore/loading.py",
        "personframes/state/video.py",
        "models/bundled/",
        "state/video.VideoState",
        "analyze/tracking",
        "config.py",
        "personframes.restore.metrics.blur_index",
        "tests/test_docs.py::test_the_path_rule_checks_what_it_says",
    ):
        assert check_path(real) is None, real
    for wrong in (
        "pipeline/records.py",
        "review/store.py",
        "state/video.NoSuchThing",
        "personframes.pipeline.state",
        "tests/test_docs.py::test_missing",
        "nosuchmodule.py",
    ):
        assert check_path(wrong) is not None, wrong
    for other in ("OUT/.personframes/review.sqlite", "out/", "detect/<name>.py", "K/N"):
        assert check_path(other) is None, other


def test_the_readme_is_a_front_page_under_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines"


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert pages(), "no docs/*.md"
    missing = [p.name for p in pages() if f"](docs/{p.name}" not in text]
    assert not missing, f"README.md does not link {missing}"


def test_every_docs_page_starts_with_its_title_and_a_one_line_summary() -> None:
    assert pages(), "no docs/*.md"
    for page in pages():
        head = page.read_text(encoding="utf-8").splitlines()[:4]
        assert len(head) == 4 and head[0].startswith("# "), page.name
        assert head[1] == "" and head[2].strip() and head[3] == "", f"{page.name}: {head}"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_pages_lead_somewhere() -> None:
    problems = []
    for doc in [README, ARCHITECTURE, *pages()]:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"\w+://", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (doc.parent / file).resolve() if file else doc
            if not linked.is_file():
                problems.append(f"{doc.name}: {target}: no such file")
                continue
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
            if anchor and anchor not in {slug(h) for h in headings}:
                problems.append(f"{doc.name}: {target}: no such heading")
    assert not problems, "\n".join(problems)


def test_the_layers_table_is_the_import_contract() -> None:
    tomllib = pytest.importorskip("tomllib")
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layered = [c for c in contracts["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert len(layered) == 1
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE)
    assert [r.replace("\\|", "|") for r in rows] == layered[0]["layers"]


def test_the_registries_ids_are_the_configs_literals() -> None:
    """The recipes add an id to a registry and to the config's Literal: both, or the
    config refuses what the registry has (or offers what it lacks)."""
    from personframes.config import FaceDetectorName, ModelId, RestoreEngineName
    from personframes.detect import REGISTRY
    from personframes.models.catalogue import CATALOGUE, RESTORATION_KINDS
    from personframes.restore.engines.base import ENGINES

    assert set(REGISTRY.ids) == set(get_args(FaceDetectorName))
    assert set(ENGINES.ids) == set(get_args(RestoreEngineName)) - {"auto"}
    restoration = {s.id for s in CATALOGUE.values() if s.kind in RESTORATION_KINDS}
    assert restoration == set(get_args(ModelId))
