"""The build step pyproject.toml cannot say: gettext catalogues (.po) are
compiled to .mo files into the built package, with Babel as a build
requirement only (libcli reads .mo files with the stdlib's gettext).

A regular build writes them beside the other built files (the wheel); an
editable install (`pip install -e .`) runs the package from the source tree,
so there they are written next to their .po files (ignored by git).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE = Path("libcli") / "locale"


def compile_catalogues(source: Path, target: Path) -> list[Path]:
    """Compile each <lang>/LC_MESSAGES/libcli.po under `source` to a .mo at
    the same place under `target`; Babel's checks (placeholders, plural
    forms) must pass. Returns the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        problems = [f"{po}: {message.id!r}: {error}"
                    for message, errors in catalog.check() for error in errors]
        if problems:
            raise SystemExit("catalogue errors:\n" + "\n".join(problems))
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        written.append(mo)
    return written


class build_py_with_catalogues(build_py):
    def run(self):
        super().run()
        target = LOCALE if self.editable_mode else Path(self.build_lib) / LOCALE
        self._catalogues = compile_catalogues(LOCALE, target)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [
            str(p) for p in getattr(self, "_catalogues", ())]


if __name__ == "__main__":
    setup(cmdclass={"build_py": build_py_with_catalogues})
