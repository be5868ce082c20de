"""What Lambda gets: Chalice deploys `app.py` and `chalicelib/` with requirements.txt's packages, so
nothing there may import dev tooling (moto, its werkzeug/flask server, this project's `notifications`
package). Checked twice: every import statement in the source, even inside functions (a lazy import
fails only when reached, on AWS), and what importing every module pulls in, transitively."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
DEV_ONLY = ("moto", "werkzeug", "flask", "notifications")


def _top_level(name: str) -> str:
    return name.split(".")[0]


def imported_names(path: Path) -> set[str]:
    """Every absolute module an import statement of `path` names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


def test_no_deployed_source_imports_dev_tooling():
    offenders = {f"{path.relative_to(ROOT)}: {name}" for path in DEPLOYED for name in imported_names(path)
                 if _top_level(name) in DEV_ONLY}
    assert not offenders, sorted(offenders)


def test_the_finder_sees_a_dev_import(tmp_path):
    """The check above can fail: a lazy import inside a function is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from notifications.local import runtime\n    import moto.server\n")
    assert {_top_level(name) for name in imported_names(module)} == {"notifications", "moto"}


IMPORT_ALL = """
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import chalicelib
names = ["app"] + [m.name for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_importing_every_deployed_module_loads_no_dev_tooling():
    """In a fresh interpreter (this one has moto loaded by the fixtures)."""
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, str(ROOT)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert "chalicelib.api" in result["imported"] and "chalicelib.streams" in result["imported"]
    assert not set(DEV_ONLY) & set(result["loaded"]), sorted(set(DEV_ONLY) & set(result["loaded"]))


def _requirement_lines(lines) -> set[str]:
    return {line.split("#")[0].replace(" ", "") for line in lines if line.split("#")[0].strip()}


def test_requirements_txt_is_the_runtime_dependencies():
    """requirements.txt (what Chalice packages) is pyproject's `dependencies` but chalice (its own runtime
    goes in anyway) and boto3 (Lambda's Python runtime has it): no dev extra, no drift."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {dep for dep in _requirement_lines(project["dependencies"])
               if not dep.lower().startswith(("chalice", "boto3"))}
    assert _requirement_lines((ROOT / "requirements.txt").read_text().splitlines()) == runtime
    assert not any(dep.lower().startswith("moto") for dep in _requirement_lines(project["dependencies"]))
