"""The README and docs/ stay in step with the code: the quick-start commands with CI, every linked file
exists, and the configuration table with SimConfig's fields, defaults and allowed names."""
import dataclasses
import re
from pathlib import Path

import pytest

from core.config import ConfigError, SimConfig

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 16 * 1024

# [text](target) and ![alt](target); the target ends at the first space or ")"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")
# `some/path.ext` written in backticks: a file path in this repository
CODE_PATH = re.compile(r"`((?:\.?[\w-]+/)+[\w.-]+\.\w+)`")


def quick_start_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip() and not line.startswith("#")]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    launch, test = quick_start_commands()
    assert launch.endswith(".venv/bin/vanishing-point")
    assert test.endswith("-m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci_lines


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; the reference belongs in docs/"


def local_targets(page: Path) -> list[str]:
    """The repository files `page` links to or names in backticks (web links and anchors left out)."""
    text = page.read_text(encoding="utf-8")
    targets = [t.split("#", 1)[0] for t in LINK.findall(text)]
    targets = [t for t in targets if t and not re.match(r"[a-z]+:", t)]
    if page == README:  # the docs also name files inside code blocks and formulas; the README names few
        targets += CODE_PATH.findall(text)
    return targets


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_linked_file_exists(page):
    missing = [t for t in local_targets(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_points_to_every_reference_page():
    linked = {(README.parent / t).resolve() for t in local_targets(README)}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not point to: {unlinked}"


def config_table() -> dict[str, tuple[str, str]]:
    """docs/configuration.md's field table: field → (values cell, default cell)."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    table = text.split("| field | values | default |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[1:]:  # after the |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"configuration.md: malformed row {line!r}"
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def allowed_names(field: str) -> list[str]:
    """The names SimConfig accepts for a choice field, read from its refusal of an unknown one."""
    with pytest.raises(ConfigError) as refused:
        SimConfig(**{field: "no-such-name"})
    return [n.strip() for n in re.split(r"allowed:?", str(refused.value), flags=re.I)[-1].split(",")]


def test_configuration_table_lists_every_field_with_its_default():
    rows = config_table()
    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    assert set(rows) == set(fields), (f"configuration.md's table: missing {sorted(set(fields) - set(rows))}, "
                                      f"not fields {sorted(set(rows) - set(fields))}")
    for name, (values, default) in rows.items():
        expected = fields[name].default
        if isinstance(expected, str):
            assert default == f"`{expected}`", f"{name}: default documented as {default}, code has {expected!r}"
            listed = re.findall(r"`([^`]+)`", values.split("(", 1)[0])  # a note in brackets may name others
            assert listed == allowed_names(name), f"{name}: allowed names differ"
        else:
            assert float(default) == expected, f"{name}: default documented as {default}, code has {expected!r}"
