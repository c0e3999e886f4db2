"""The docs build (``mkdocs build --strict``), their generated tables match the code, and every
code block of README.md and docs/ runs.

Code blocks: each Markdown file's ```python and ```bash/```sh blocks run in order, in one
temporary folder per file (so a page can create a meter.db in one block and read it in the
next), with the package on PYTHONPATH and ``python`` meaning this interpreter.  A python block that
defines ``test_`` functions runs under pytest (the plugin's examples).  A block preceded by
``<!-- no-run: reason -->`` is skipped -- only for what needs a device or installs software."""
from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import List, NamedTuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(REPO, "docs")
sys.path.insert(0, DOCS)

import gen_reference  # noqa: E402

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NO_RUN = re.compile(r"<!--\s*no-run:\s*(.*?)\s*-->\s*$")
RUNNABLE = {"python": "python", "bash": "bash", "sh": "bash", "shell": "bash"}


class Block(NamedTuple):
    path: str
    line: int
    language: str
    code: str
    no_run: str          # the reason, or "" when the block runs


def blocks_of(path: str) -> List[Block]:
    text = open(path, encoding="utf-8").read()
    found = []
    for match in FENCE.finditer(text):
        language = RUNNABLE.get(match.group(1).lower())
        if language is None:
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NO_RUN.search(before)
        found.append(Block(os.path.relpath(path, REPO), text.count("\n", 0, match.start()) + 1, language,
                           match.group(2), reason.group(1) if reason else ""))
    return found


def markdown_files() -> List[str]:
    return [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True))


def environment(tmp_path, python: str = sys.executable) -> dict:
    """The package importable, ``python`` on PATH meaning this interpreter (``python``), no
    settings leaking in."""
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    # a script, not a symlink: a virtualenv's python found through a link outside the venv loses
    # the venv (its pyvenv.cfg is looked up beside the link) and with it the installed packages
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(python)} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""), MPLBACKEND="Agg")
    env.pop("GENERATEMETERDATA_PASSWORD", None)
    return env


def run_block(block: Block, index: int, cwd, env) -> str:
    where = f"{block.path}:{block.line}"
    if block.language == "python":
        name = f"test_block_{index}.py" if re.search(r"^def test_", block.code, re.M) else f"block_{index}.py"
        script = cwd / name
        script.write_text(block.code, encoding="utf-8")
        command = ([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", name]
                   if name.startswith("test_") else [sys.executable, name])
    else:
        script = cwd / f"block_{index}.sh"
        script.write_text("set -euo pipefail\n" + block.code, encoding="utf-8")
        command = ["bash", script.name]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (f"the code block at {where} failed (exit {result.returncode}):\n"
                                    f"{block.code}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    return result.stdout


FILES = [path for path in markdown_files() if any(not b.no_run for b in blocks_of(path))]


@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(p, REPO) for p in FILES])
def test_every_code_block_runs(path, tmp_path):
    env = environment(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    ran = 0
    for index, block in enumerate(blocks_of(path)):
        if block.no_run:
            continue
        run_block(block, index, work, env)
        ran += 1
    assert ran > 0


def test_the_readme_and_docs_examples_are_collected():
    everything = [b for path in markdown_files() for b in blocks_of(path)]
    readme = [b for b in everything if b.path == "README.md"]
    assert sum(1 for b in readme if b.language == "python" and not b.no_run) >= 3
    assert sum(1 for b in everything if b.language == "bash" and not b.no_run) >= 4
    skipped = [b for b in everything if b.no_run]
    assert len(skipped) <= 4, [f"{b.path}:{b.line}" for b in skipped]   # few, and each says why
    assert all(len(b.no_run) > 15 for b in skipped)


def test_a_failing_block_fails_the_test(tmp_path):
    broken = Block("example.md", 1, "python", "import GenerateMeterData\nGenerateMeterData.Scenario(days=0)\n", "")
    with pytest.raises(AssertionError, match=r"example.md:1 failed \(exit 1\)"):
        run_block(broken, 0, tmp_path, environment(tmp_path))
    text = "<!-- no-run: needs a real device on the bench -->\n```python\nprint(1)\n```\n\n```bash\necho 2\n```\n"
    (tmp_path / "page.md").write_text(text, encoding="utf-8")
    found = blocks_of(str(tmp_path / "page.md"))
    assert [(b.language, b.no_run) for b in found] == [("python", "needs a real device on the bench"), ("bash", "")]


def test_python_of_the_blocks_keeps_a_virtualenv(tmp_path):
    """``python`` in a block is the interpreter running the tests, its virtualenv included (a
    symlink to a venv's python outside the venv ran the base interpreter: "No module named ...")."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (tmp_path / "blocks").mkdir()
    env = environment(tmp_path / "blocks", python=str(venv / "bin" / "python"))
    result = subprocess.run(["python", "-c", "import sys; print(sys.prefix)"], env=env, capture_output=True,
                            text=True, check=True)
    assert os.path.realpath(result.stdout.strip()) == os.path.realpath(venv)


#: The README's two commands, exactly as a newcomer copies them (and as .ci/run and CI run the second).
README_COMMANDS = ['. tests/python.sh && "$PYTHON" -m pip install . && "$PYTHON" -m GenerateMeterData seed --meters 10 --days 30',
                   "bash tests/run.sh"]


def test_the_two_commands_stay_as_documented():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    section = text.index("## The two commands")
    block = next(b for b in blocks_of(os.path.join(REPO, "README.md"))
                 if text.count("\n", 0, section) < b.line)
    assert [line for line in block.code.splitlines() if line.strip() and not line.startswith("#")] == README_COMMANDS
    ci = [line for line in open(os.path.join(REPO, ".ci", "run"), encoding="utf-8") if line.startswith("exec ")]
    assert ci == ["exec bash tests/run.sh -q\n"]
    run = open(os.path.join(REPO, "tests", "run.sh"), encoding="utf-8").read()
    assert "\n. tests/python.sh || exit 1\n" in run and 'exec "$PYTHON" -m pytest "$@"' in run


def _choose_python(cwd, shell="sh", path_first=None, **env_extra):
    """Source tests/python.sh as the README's first command does; (exit, PYTHON, python3 on PATH, stderr)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHON", "VIRTUAL_ENV")}
    if path_first:
        env["PATH"] = str(path_first) + os.pathsep + env["PATH"]
    env.update(env_extra)
    script = f'. {shlex.quote(os.path.join(REPO, "tests", "python.sh"))} && echo "$PYTHON" && command -v python3'
    result = subprocess.run([shell, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    lines = result.stdout.splitlines() + ["", ""]
    return result.returncode, lines[0], lines[1], result.stderr


def _marked(python: str) -> bool:
    probe = "import os, sys, sysconfig; print(sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    return result.stdout.strip() == "True"


def _python3_wrapper(folder, python: str):
    folder.mkdir()
    wrapper = folder / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(python)} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return folder


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_a_python_that_may_install_is_used_as_it_is(tmp_path, shell):
    if _marked(sys.executable):
        pytest.skip("the tests run on an externally managed Python (PEP 668)")
    status, python, on_path, _ = _choose_python(tmp_path, shell, _python3_wrapper(tmp_path / "bin", sys.executable))
    assert status == 0 and python == str(tmp_path / "bin" / "python3") == on_path
    assert not (tmp_path / ".venv").exists()
    status, python, _, _ = _choose_python(tmp_path, shell, PYTHON="/opt/my/python")  # the user's choice wins
    assert status == 0 and python == "/opt/my/python"


def test_an_active_virtualenv_is_used(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    status, python, _, _ = _choose_python(tmp_path, "sh", venv / "bin", VIRTUAL_ENV=str(venv))
    assert status == 0 and python == str(venv / "bin" / "python3")
    assert not (tmp_path / ".venv").exists()


def test_an_externally_managed_python_gets_a_virtualenv_of_its_own(tmp_path):
    """PEP 668 (Debian 12, Ubuntu 24.04): `pip install .` is refused outside a venv, so the
    commands make ./.venv, activate it and install there."""
    marked = [p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p) and _marked(p)]
    if not marked:
        pytest.skip("no externally managed (PEP 668) python3 on this machine")
    work = tmp_path / "clone"
    work.mkdir()
    status, python, on_path, stderr = _choose_python(work, "sh", _python3_wrapper(tmp_path / "bin", marked[0]))
    assert status == 0, stderr
    assert python == str(work / ".venv" / "bin" / "python") and on_path == str(work / ".venv" / "bin" / "python3")
    assert "creating the virtualenv" in stderr and "PEP 668" in stderr
    pip = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and str(work / ".venv") in pip.stdout   # installs go into the venv
    status, again, _, stderr = _choose_python(work, "bash", tmp_path / "bin")  # a second run reuses it
    assert status == 0 and again == python and "using the virtualenv" in stderr


def test_generated_reference_pages_match_the_code():
    for page, text in gen_reference.render().items():
        path = os.path.join(DOCS, page)
        assert os.path.exists(path) and open(path, encoding="utf-8").read() == text, \
            f"docs/{page} is stale: run `python docs/gen_reference.py` and commit the result"


def test_the_reference_holds_every_tag_type_key_and_command():
    from GenerateMeterData import cli, settings
    from GenerateMeterData.pytest_plugin import SEED_CLASSES, _snake
    from GenerateMeterData.schema import layout, reference

    pages = gen_reference.render()
    measures = pages["reference/measures.md"]
    for family in layout.FAMILIES.values():
        for tag, (key, index) in family.tags.items():
            row_key = f"{family.key_column} = {key}" if family.key_column else "—"
            assert f"| `{tag}` | {row_key} | {family.table}.{family.value_columns[index]} |" in measures
    assert "| `A+1` | Tariff = 1 | ElectricEnergyValues.Ap |" in measures
    assert "| `Freq` | Phase = Summ | ElectricQualityValues.F |" in measures
    assert "| `isAm` | ElectricConfig.Reactive |" in measures  # by position, as the device API (contract)
    for name, _, _ in reference.ARCH_TYPES:
        assert f"| `{name}` |" in measures
    types = pages["reference/meter-types.md"]
    assert len(reference.METER_TYPES) == 29
    for _, name, _, _ in reference.METER_TYPES:
        assert f"| `{name}` |" in types
    keys = pages["reference/settings.md"]
    for key in settings.KNOWN_KEYS:
        assert f"| `{key}` |" in keys
    assert "| `stage_dir` | `/tmp` |" in keys and "`auto` (SQL text for small loads" in keys
    commands = pages["reference/cli.md"]
    for name in gen_reference._subcommands(cli.build_parser()):
        assert f"## `{name}`" in commands
    fixtures = pages["reference/plugin-fixtures.md"]
    for scope, fixture in (("function", "meterdata"), ("class", "meterdata_class"),
                           ("module", "meterdata_module"), ("session", "meterdata_session"),
                           ("session", "meterdata_query")):
        assert f"| `{fixture}` | {scope} |" in fixtures
    plugin_page = open(os.path.join(DOCS, "plugin.md"), encoding="utf-8").read()
    for option in ("--meterdata-settings", "--meterdata-section", "--meterdata-keep",
                   "meterdata_settings", "meterdata_section", "meterdata_keep"):
        assert option in plugin_page
    assert len([name for name in SEED_CLASSES if f"`{_snake(name)}_factory`" in fixtures]) == len(SEED_CLASSES)


def test_the_generator_refuses_an_undescribed_settings_key(monkeypatch):
    from GenerateMeterData import settings

    monkeypatch.setattr(settings, "KNOWN_KEYS", settings.KNOWN_KEYS | {"brand_new_key"})
    with pytest.raises(SystemExit, match="settings key brand_new_key has no description"):
        gen_reference.settings_page()


def test_mkdocs_builds_strict(tmp_path):
    """The whole site, from a copy of docs/ (the build's hook regenerates the reference pages and
    must not touch the checkout)."""
    from importlib.util import find_spec

    if find_spec("mkdocs") is None or find_spec("mkdocstrings") is None:
        pytest.skip("mkdocs / mkdocstrings[python] not installed (pip install '.[docs]')")
    shutil.copytree(DOCS, tmp_path / "docs")
    config = open(os.path.join(REPO, "mkdocs.yml"), encoding="utf-8").read()
    replacements = {"docs_dir: docs": f"docs_dir: {tmp_path / 'docs'}",
                    "  - docs/gen_reference.py": f"  - {tmp_path / 'docs' / 'gen_reference.py'}",
                    "paths: [.]": f"paths: [{REPO}]"}
    for old, new in replacements.items():
        assert old in config, f"mkdocs.yml no longer has {old!r}; update this test"
        config = config.replace(old, new)
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(tmp_path / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "site" / "python-api" / "index.html").read_text(encoding="utf-8")
    assert 'id="GenerateMeterData.MeterPlan"' in api and 'id="GenerateMeterData.Scenario"' in api  # mkdocstrings ran
    measures = (tmp_path / "site" / "reference" / "measures" / "index.html").read_text(encoding="utf-8")
    assert "ElectricEnergyValues.Ap" in measures


def test_the_verify_page_lists_every_registered_rule():
    import importlib

    rules = importlib.import_module("GenerateMeterData.verify").RULES
    page = gen_reference.render()["reference/verify-rules.md"]
    assert "Generated stub" not in page and len(rules) >= 10
    for name, rule in rules.items():
        assert f"| `{name}` |" in page and rule.summary.split(" (")[0][:40] in page
