"""Every interface string goes through gettext and has an Indonesian translation."""
import pytest
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


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_numberformat_filter_writes_what_babel_writes(app, lang):
    """core.i18n.format_number formats whole numbers without Babel's pattern machinery: the same text
    as Babel for every kind of number, and Babel itself for anything but a whole number."""
    import random
    from decimal import Decimal

    from babel.numbers import format_decimal
    from flask import render_template_string

    from kim_platform.core.i18n import format_number

    rng = random.Random(20)
    numbers = [0, 1, -1, 9, 10, 999, 1000, -1000, 99999, 100000, 10**9, -(10**15)] + [
        rng.randint(-10**rng.randint(1, 14), 10**rng.randint(1, 14)) for _ in range(500)]
    with app.test_request_context(f"/?lang={lang}"):
        for n in numbers:
            assert format_number(n) == format_decimal(n, locale=lang), n
        for other in (12.5, 1234.567, Decimal("98765.4321"), -0.5):
            assert format_number(other) == format_decimal(other, locale=lang), other
        assert render_template_string("{{ 49509|numberformat }}") == ("49.509" if lang == "id" else "49,509")
