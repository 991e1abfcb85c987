"""Every interface string goes through gettext and has an Indonesian translation."""
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from kim_platform.config import PROJECT_ROOT

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
# Names of other services and file formats are the same in every language.
BRANDS = {"WhatsApp", "Facebook", "Telegram", "Instagram", "YouTube", "TikTok", "XLSX", "CSV", "GeoJSON"}
METHODS = [("kim_platform/**.py", "python"), ("templates/**.html", "jinja2")]


def extracted_msgids() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(PROJECT_ROOT), METHODS, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_an_indonesian_translation():
    with (PROJECT_ROOT / "kim_platform/translations/id/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = sorted(extracted_msgids() - translated)
    assert not missing, f"untranslated (run `make translations-update` and translate): {missing}"


def test_templates_have_no_bare_visible_text_outside_gettext():
    """A crude guard: no template line has letters between tags that are not a Jinja expression."""
    import re

    offenders = []
    for path in (PROJECT_ROOT / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", "", line)
            for text in re.findall(r">([^<>]+)<", stripped):
                if re.search(r"[A-Za-z]{3,}", text) and text.strip() not in BRANDS:
                    offenders.append(f"{path.name}:{number}: {text.strip()}")
    assert not offenders, offenders
