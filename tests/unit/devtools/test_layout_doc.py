from devtools.layout_doc import DOC, REPO_ROOT, ROOTS, layout_table, with_layout


def test_the_architecture_layout_table_names_every_module_of_the_tree() -> None:
    current = DOC.read_text(encoding="utf-8")
    assert current == with_layout(current, layout_table()), (
        "docs/architecture.md's layout table is stale: run python -m devtools.layout_doc"
    )


def test_every_module_has_a_docstring_saying_what_it_is_for() -> None:
    lines = layout_table().splitlines()
    for folder, _title in ROOTS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            row = f"| `{path.relative_to(REPO_ROOT).as_posix()}` | "
            line = next(line for line in lines if line.startswith(row))
            assert len(line) > len(row) + 10, f"{path} has no docstring saying what it is for"
