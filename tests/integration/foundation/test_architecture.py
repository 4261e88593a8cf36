"""The shape of the package, checked on the source tree itself.

The layer contracts live in pyproject.toml and run as ``lint-imports`` in .ci/run. This
module adds what those contracts do not say one by one:

- no two modules import each other. import-linter's ``acyclic_siblings`` contract forbids
  cycles between the children of each package but reports only a few cycle-breaking
  dependencies per package, and never sees a package's ``__init__`` importing one of its own
  modules that imports the package back. Every import counts here, as in the contracts:
  module level, inside a function, and under ``TYPE_CHECKING``;
- no module under skimd/ (migrations aside: generated, append-only) is longer than
  ``MAX_LINES`` unless its module docstring says why, in a sentence containing
  ``REASON_PHRASE`` ("Longer than 500 lines because ..."). Say what would be lost by
  splitting it; a bare phrase with no reason after it does not count;
- the domain contract forbids every top-level module of skimd but the domain and
  skimd.errors, so a new top-level module is not silently allowed into the domain.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "skimd"
EXEMPT = PACKAGE / "infrastructure" / "database" / "migrations"

MAX_LINES = 500
REASON_PHRASE = "Longer than 500 lines because"
# The phrase, then at least three words of reason (the docstring may wrap it over lines).
_STATED_REASON = re.compile(re.escape(REASON_PHRASE) + r"(\s+\S+){3}")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # No cache directory: the test must not leave files in the work tree.
    return grimp.build_graph("skimd", cache_dir=None)


def _lines(importer: str, imported: str, graph: grimp.ImportGraph) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    return ", ".join(f"l.{d['line_number']}" for d in details)


def mutual_imports(graph: grimp.ImportGraph) -> list[str]:
    """Each pair of skimd modules that import each other, once, with the import lines."""
    pairs = []
    for module in sorted(graph.modules):
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if module < other and module in graph.find_modules_directly_imported_by(other):
                pairs.append(
                    f"{module} ({_lines(module, other, graph)}) <-> "
                    f"{other} ({_lines(other, module, graph)})"
                )
    return pairs


def test_no_two_modules_import_each_other(graph: grimp.ImportGraph) -> None:
    pairs = mutual_imports(graph)
    assert pairs == [], "modules that import each other:\n" + "\n".join(pairs)


def test_the_pair_check_names_each_pair_once_with_its_import_lines() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=3, line_contents="import b")
    graph.add_import(
        importer="pkg.b", imported="pkg.a", line_number=40, line_contents="from pkg import a"
    )
    graph.add_import(importer="pkg.b", imported="pkg.c", line_number=4, line_contents="import c")
    assert mutual_imports(graph) == ["pkg.a (l.3) <-> pkg.b (l.40)"]


def overlong_modules() -> list[str]:
    """Modules over MAX_LINES whose docstring states no reason, with their lengths."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(EXEMPT):
            continue
        text = path.read_text(encoding="utf-8")
        count = len(text.splitlines())
        if count <= MAX_LINES:
            continue
        doc = " ".join((ast.get_docstring(ast.parse(text)) or "").split())
        if not _STATED_REASON.search(doc):
            found.append(f"{path.relative_to(ROOT)}: {count} lines")
    return found


def test_no_module_is_over_500_lines_without_a_stated_reason() -> None:
    found = overlong_modules()
    assert found == [], (
        f"split these, or state in the module docstring why not "
        f'("{REASON_PHRASE} ..."):\n' + "\n".join(found)
    )


def test_a_reason_needs_words_after_the_phrase() -> None:
    assert _STATED_REASON.search(f"{REASON_PHRASE} the codec and its tables change together.")
    assert _STATED_REASON.search(f"It is {REASON_PHRASE}\n    one state machine reads best whole.")
    assert not _STATED_REASON.search(f"{REASON_PHRASE}.")
    assert not _STATED_REASON.search("Longer than it should be.")


def test_the_domain_contract_forbids_every_other_top_level_module(
    graph: grimp.ImportGraph,
) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c.get("id"): c for c in config["tool"]["importlinter"]["contracts"]}
    forbidden = set(contracts["domain-pure"]["forbidden_modules"])
    expected = graph.find_children("skimd") - {"skimd.domain", "skimd.errors"}
    assert forbidden == expected
