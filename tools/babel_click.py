"""Babel extraction for libcli (maintainers only; see README, Translations).

What Babel's Python extractor finds (`_`, `N_`, `ngettext`, ...), and the
click help texts, which are plain strings in the source: command docstrings,
`help=`/`short_help=`/`epilog=` literals and `H_(...)` constants. A help text
is cut into the pieces libcli.i18n.help_parts() names, the same pieces
libcli.i18n.localize_help() looks up at run time.

    PYTHONPATH=tools pybabel extract -F babel.cfg ...
"""

from __future__ import annotations

import ast
import io

from babel.messages.extract import extract_python

from libcli.i18n import help_parts

HELP_KEYWORDS = ("help", "short_help", "epilog")


def _is_click_command(decorator: ast.expr) -> bool:
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("command", "group")


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract(fileobj, keywords, comment_tags, options):
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        texts: list[str | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and any(_is_click_command(d) for d in node.decorator_list):
            texts.append(ast.get_docstring(node, clean=False))
        elif isinstance(node, ast.Call):
            if getattr(node.func, "id", None) == "H_" and node.args:
                texts.append(_text(node.args[0]))
            texts += [_text(k.value) for k in node.keywords if k.arg in HELP_KEYWORDS]
        for text in texts:
            for part in help_parts(text) if text else ():
                yield node.lineno, None, part, []
