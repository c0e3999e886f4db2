"""The seed classes are declared in seedapi.py's source, one per registry entry that names
itself as its seed class (issue 20, item 3): type checkers see them, and this file checks the
declarations against the registry (schema/measures.py)."""
from __future__ import annotations

import ast
import pathlib

import pytest

import GenerateMeterData
from GenerateMeterData import seedapi
from GenerateMeterData.schema import measures

SOURCE = pathlib.Path(seedapi.__file__).read_text(encoding="utf-8")


def _declared_measure_classes():
    """(class name, its ``measure = "..."``) of every top-level class of seedapi.py based on _Measure."""
    out = []
    for node in ast.parse(SOURCE).body:
        if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "_Measure" for b in node.bases):
            values = [stmt.value.value for stmt in node.body if isinstance(stmt, ast.Assign)
                      and [t.id for t in stmt.targets if isinstance(t, ast.Name)] == ["measure"]
                      and isinstance(stmt.value, ast.Constant)]
            out.append((node.name, values[0] if values else None))
    return out


def test_every_registry_seed_class_is_declared_once_under_its_own_name():
    wanted = [m.name for m in measures.REGISTRY if m.is_record and m.seed_class == m.name]
    declared = [(name, measure) for name, measure in _declared_measure_classes() if name != "Journal"]
    assert sorted(declared) == sorted((name, name) for name in wanted)
    assert len({name for name, _ in declared}) == len(declared)   # no name declared twice
    assert list(seedapi.MEASURE_CLASSES) == wanted
    assert all(seedapi.MEASURE_CLASSES[name] is getattr(seedapi, name) for name in wanted)


def test_all_is_written_out_and_is_the_registrys_list():
    tree = ast.parse(SOURCE)
    literal = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                   and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"])
    assert isinstance(literal, ast.List)   # a literal, so a type checker reads it
    assert seedapi.__all__ == seedapi.SEED_CLASSES
    assert seedapi.SEED_CLASSES == ["MeterTable", *measures.SEED_MEASURE_CLASSES, "JournalName", "configure"]
    assert all(getattr(GenerateMeterData, name) is getattr(seedapi, name) for name in seedapi.__all__)


def test_a_seed_class_the_registry_does_not_name_is_refused_at_its_declaration():
    with pytest.raises(TypeError, match="ElHourEnergy: the registry has no measure 'ElHourEnergy'"):
        type("ElHourEnergy", (seedapi._Measure,), {"measure": "ElHourEnergy"})
    with pytest.raises(TypeError, match="Mislabelled: the registry has no measure 'ElDayEnergy'"):
        type("Mislabelled", (seedapi._Measure,), {"measure": "ElDayEnergy"})


def test_journal_name_is_written_out_and_is_the_registrys_journals():
    assert [member.name for member in GenerateMeterData.JournalName] == list(measures.JOURNAL_NAMES)
    assert all(member.value == member.name and str(member) == member.name for member in GenerateMeterData.JournalName)
    tree = ast.parse(SOURCE)
    (declared,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "JournalName"]
    assert [t.id for stmt in declared.body if isinstance(stmt, ast.Assign) for t in stmt.targets] == \
        list(measures.JOURNAL_NAMES)


def test_the_packages_all_is_written_out_and_starts_with_the_seed_classes():
    source = pathlib.Path(GenerateMeterData.__file__).read_text(encoding="utf-8")
    literal = next(node.value for node in ast.parse(source).body if isinstance(node, ast.Assign)
                   and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"])
    assert isinstance(literal, ast.List) and all(isinstance(item, ast.Constant) for item in literal.elts)
    assert GenerateMeterData.__all__[:len(seedapi.SEED_CLASSES)] == seedapi.SEED_CLASSES
    assert len(set(GenerateMeterData.__all__)) == len(GenerateMeterData.__all__)
    assert all(hasattr(GenerateMeterData, name) for name in GenerateMeterData.__all__)
