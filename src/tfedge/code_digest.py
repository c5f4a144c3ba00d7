"""A digest of the library code a job runs, so that editing it reruns the jobs it changes.

Snakemake's ``code`` rerun trigger sees a rule and its script, a dozen-line adapter, not the
library the script calls. Each rule therefore passes a param ``code``: the digest of the tfedge
modules its script imports or runs by name (``python -m tfedge.train_attempt``), followed
through their own imports, the packages they belong to included. It digests each module's
syntax tree without docstrings, so comments, formatting and docstrings rerun nothing. Pure
Python: Snakemake computes it while it parses the workflow.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "tfedge"
PACKAGE_FOLDER = Path(__file__).parent


def module_file(name: str, root: Path) -> Path | None:
    """The source of module ``tfedge.x.y`` below ``root`` (the package folder), if it exists."""
    parts = name.split(".")[1:]
    candidates = [root.joinpath(*parts, "__init__.py")]
    if parts:
        candidates.append(root.joinpath(*parts[:-1], parts[-1] + ".py"))
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]


def _named_modules(node: ast.AST) -> list[str]:
    """The modules an import names, or a string that is a module's name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


def _parsed(path: Path) -> tuple[str, frozenset[str]]:
    """A file's syntax tree without docstrings, and the tfedge modules it names."""
    info = path.stat()
    return _parse(path, info.st_mtime_ns, info.st_size)


@functools.cache
def _parse(path: Path, mtime_ns: int, size: int) -> tuple[str, frozenset[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = {
        name
        for node in ast.walk(tree)
        for name in _named_modules(node)
        if name == PACKAGE or name.startswith(PACKAGE + ".")
    }
    _strip_docstrings(tree)
    return ast.dump(tree), frozenset(named)


def _with_packages(name: str) -> list[str]:
    """``tfedge.a.b`` and the packages importing it runs first: ``tfedge``, ``tfedge.a``."""
    parts = name.split(".")
    return [".".join(parts[:count]) for count in range(1, len(parts) + 1)]


def code_files(entries: tuple[str | Path, ...], root: Path = PACKAGE_FOLDER) -> list[Path]:
    """Every source file the entries (script paths or module names) reach, sorted."""
    files: set[Path] = set()
    pending = [Path(entry) for entry in entries if isinstance(entry, Path)]
    names = [entry for entry in entries if isinstance(entry, str)]
    while pending or names:
        if pending:
            path = pending.pop()
            if path in files:
                continue
            files.add(path)
            names.extend(_parsed(path)[1])
            continue
        for package in _with_packages(names.pop()):
            path = module_file(package, root)
            if path is not None and path not in files:
                pending.append(path)
    return sorted(files)


def code_digest(*entries: str | Path, root: Path = PACKAGE_FOLDER) -> str:
    """SHA-256 of the code the entries reach, without docstrings, comments or formatting."""
    digest = hashlib.sha256()
    labelled = {_label(path, root): path for path in code_files(entries, root)}
    for label in sorted(labelled):
        digest.update(f"{label}\n{_parsed(labelled[label])[0]}\n".encode())
    return digest.hexdigest()


def _label(path: Path, root: Path) -> str:
    """A file's name in the digest: where the package or the workflow lies must not count."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else f"scripts/{path.name}"
