"""Collect every user-facing message: `_()` in templates, and in Python the first argument of the
service's exceptions, of `Decision`, `N_` and `ctx._`. `scripts/i18n.py` writes the catalogs from it
and a test checks that Korean and Chinese translate every one."""

from __future__ import annotations

import ast
from pathlib import Path

from jinja2 import Environment

PACKAGE = Path(__file__).resolve().parents[1]
CALLS = {"InvalidInput", "Forbidden", "NotFound", "Conflict", "NotAuthenticated", "RateLimited", "TooLarge",
         "EntrepotError", "Decision", "N_", "_", "gettext"}


def _python_messages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in CALLS:
            continue
        for arg in node.args[:2]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                found.add(arg.value)
                break
    return found


def _template_messages(path: Path, env: Environment) -> set[str]:
    source = path.read_text(encoding="utf-8")
    return {msg if isinstance(msg, str) else msg[0]
            for _lineno, _func, msg in env.extract_translations(source)  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
            if msg and (isinstance(msg, str) or msg[0])}


def extract() -> set[str]:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # only reads messages, renders nothing
    messages: set[str] = set()
    for py in PACKAGE.rglob("*.py"):
        messages |= _python_messages(py)
    for html in (PACKAGE / "web" / "templates").rglob("*.html"):
        messages |= _template_messages(html, env)
    return messages
