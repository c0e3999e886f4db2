"""No module of the package keeps mutable state beyond an allow-list (issue 20, item 2): what a
run depends on -- time zone, clock, seed, locale -- lives in the target's context, and the one
module-level setting is the default target, behind its accessor in ``targets/__init__.py``.

The scan reads the source with ``ast``: a ``global`` statement, or a module-level container
(a dict/list/set display or comprehension, or a dict()/set()/OrderedDict()/StoryCache()/
threading.local() call) that a function of the module changes (item assignment, ``del``,
append/add/update/pop/clear/setdefault/...)."""
from __future__ import annotations

import ast
import pathlib

import GenerateMeterData

PACKAGE = pathlib.Path(GenerateMeterData.__file__).parent
MUTATORS = {"append", "extend", "add", "update", "pop", "popitem", "clear", "setdefault", "remove",
            "discard", "insert", "move_to_end"}
CONTAINER_CALLS = {"dict", "list", "set", "OrderedDict", "defaultdict", "deque", "Counter", "StoryCache", "local"}

# (module, name): why it may change -- none of them holds what a run is configured with.
ALLOWED_STATE = {
    ("targets/__init__.py", "_default"): "the default target: the accessor set_default_target()/default_target()",
    ("records/producer.py", "_default_target"): "the same accessor seen from below: targets/__init__.py fills this "
                                                "hook (provide_default_target) so generate reaches the default "
                                                "target without importing targets",
    ("generate/electric.py", "STORIES"): "a bounded cache of meter models keyed on all their inputs",
    ("generate/modules.py", "PULSE_MODELS"): "a bounded cache of pulse models keyed on all their inputs",
    ("model/sun.py", "_CACHE"): "a memo of the clear-sky PV day shape per (day of year, period, latitude, offset)",
    ("model/sun.py", "_NOON"): "a memo of solar noon per (day of year, longitude, offset)",
    ("model/rng.py", "_FAKERS"): "a per-thread memo of one Faker per locale (reseeded on every use)",
    ("verify.py", "RULES"): "the rule table, filled by the @rule decorator at import",
    ("targets/executor.py", "_warned_accept_new"): "hosts already warned about accept-new (warn once)",
    ("targets/staging.py", "_swept"): "the stale staging files of this process were swept once",
    ("targets/staging.py", "_inside_worker"): "this process is a staging worker (set in the worker)",
    ("device/data_api.py", "_CELLS"): "a memo of the cell readers of each table",
}
GLOBAL_STATEMENTS_ALLOWED_IN = {"targets/__init__.py", "records/producer.py"}  # the default-target accessor
# (module, Class.attribute) a function sets on a class (state shared by every instance): why.
ALLOWED_CLASS_STATE = {
    ("cli/__init__.py", "Target.command"): "what the ledger records as the command, for the length of main() "
                                  "(still to move onto the targets the command makes)",
    ("targets/staging.py", "StageWorker._current"): "the one staging helper process of this process",
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _module_containers(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp))
        if isinstance(value, ast.Call):
            func = value.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            mutable = name in CONTAINER_CALLS
        if mutable:
            yield from (t.id for t in targets if isinstance(t, ast.Name))


def _changed_names(tree: ast.Module, caches):
    """Names changed inside a function (their items, attributes, or through a mutating method)."""
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                yield from (t.value.id for t in targets
                            if isinstance(t, (ast.Subscript, ast.Attribute)) and isinstance(t.value, ast.Name))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name):
                name, method = node.func.value.id, node.func.attr
                if method in MUTATORS or (method == "get" and name in caches):  # StoryCache.get fills it
                    yield name


def module_state():
    """(module, name) of every changing module-level name, ``global`` ones included."""
    found = set()
    for module, tree in _modules():
        containers = set(_module_containers(tree))
        caches = {n.targets[0].id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                  and isinstance(n.value.func, ast.Name) and n.value.func.id == "StoryCache"
                  and isinstance(n.targets[0], ast.Name)}
        found |= {(module, name) for name in set(_changed_names(tree, caches)) & containers}
        found |= {(module, name) for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    return found


def test_no_module_keeps_mutable_state_beyond_the_allow_list():
    state = module_state()
    assert state - set(ALLOWED_STATE) == set(), "module-level state outside the allow-list"
    present = {module for module, _ in _modules()}
    assert {entry for entry in ALLOWED_STATE if entry[0] in present} - state == set(), \
        "allow-list entries no module has any more"


def class_state():
    """(module, "Class.attribute") of every attribute a function sets on a class of the module or
    one it imports (``Target.command = ...``)."""
    found = set()
    for module, tree in _modules():
        names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        names |= {a.asname or a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                  for a in n.names}
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            known = names | {a.asname or a.name for n in ast.walk(function) if isinstance(n, (ast.Import, ast.ImportFrom))
                             for a in n.names}
            for node in ast.walk(function):
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AugAssign) else []
                for target in targets:
                    for item in (target.elts if isinstance(target, ast.Tuple) else [target]):
                        if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) \
                                and item.value.id[:1].isupper() and item.value.id in known:
                            found.add((module, f"{item.value.id}.{item.attr}"))
    return found


def test_no_function_sets_class_state_beyond_the_allow_list():
    assert class_state() == set(ALLOWED_CLASS_STATE)


def test_global_statements_only_in_the_default_target_accessor():
    where = {module for module, tree in _modules() for node in ast.walk(tree) if isinstance(node, ast.Global)}
    assert where == GLOBAL_STATEMENTS_ALLOWED_IN


def test_the_scan_finds_what_it_looks_for():
    """The scan itself, on a module written here: a changed dict and a global are found, a
    constant table and a local container are not."""
    source = ("_cache = {}\nTABLE = {'a': 1}\ncount = 0\n"
              "def f(k):\n    _cache[k] = 1\n    local = []\n    local.append(1)\n    return TABLE[k]\n"
              "def g():\n    global count\n    count += 1\n")
    tree = ast.parse(source)
    containers = set(_module_containers(tree))
    assert containers == {"_cache", "TABLE"}
    assert set(_changed_names(tree, set())) & containers == {"_cache"}
    assert [n.names for n in ast.walk(tree) if isinstance(n, ast.Global)] == [["count"]]
