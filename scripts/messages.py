"""`make messages`: find every word a staff front-end shows (`_()`, `ngettext()`, `N_()` in its
Python and templates) that none of its Vietnamese catalogues has yet, and add it, untranslated,
to `translations/vi/LC_MESSAGES/messages.po` for a translator. A test fails until each has its
translation. Usage: python scripts/messages.py web/console [web/scan ...]"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def words_in(folder: Path) -> dict[str, str | tuple[str, str]]:
    """Every message the front-end's code and templates show, by its msgid."""
    found: dict[str, str | tuple[str, str]] = {}
    for _, _, message, _, _ in extract_from_dir(folder, method_map=METHODS, keywords=KEYWORDS):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalogues(folder: Path, lang: str) -> list[Path]:
    return sorted((folder / "translations" / lang / "LC_MESSAGES").glob("*.po"))


def known(folder: Path, lang: str) -> set[str]:
    ids: set[str] = set()
    for path in catalogues(folder, lang):
        with path.open("rb") as source:
            ids |= {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    return ids


def add_missing(folder: Path, lang: str = "vi") -> list[str]:
    missing = {k: v for k, v in words_in(folder).items() if k not in known(folder, lang)}
    target = folder / "translations" / lang / "LC_MESSAGES" / "messages.po"
    if not missing:
        return []  # nothing new: no file written (nor an empty catalogue made)
    if target.exists():
        with target.open("rb") as source:
            catalog = read_po(source)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=lang)
    for message in missing.values():
        catalog.add(message, string="" if isinstance(message, str) else ("",))
    with target.open("wb") as out:
        write_po(out, catalog, width=100, sort_output=True, omit_header=False)
    return sorted(missing)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        added = add_missing(Path(name))
        print(f"{name}: {len(added)} new words to translate", *added, sep="\n  ")
