"""Text people type: the one rule for characters that have no place in it.

C0 control characters (U+0000-U+001F), DEL (U+007F), lone surrogates (JSON can carry
"\\ud800") and the noncharacters U+FFFE/U+FFFF are invisible, cannot all be stored
(PostgreSQL refuses NUL) and are not allowed in XML 1.0, so one of them in a title would
make every Atom feed that lists it unreadable. They are refused, naming the field, never
silently changed: single-line fields (names, titles, labels, numbers) take none of them,
multi-line fields (descriptions, reasons) take tab, line feed and carriage return only.
Services call `text_problem`; API schemas and forms without a service use the field
validators below, which apply the same rule.
"""
import re

import marshmallow as ma
from flask_babel import lazy_gettext as _l

_SINGLE_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def forbidden_character(value, multiline: bool = False) -> str | None:
    """The first character of `value` not allowed in such a field, or None."""
    if not isinstance(value, str):
        return None
    match = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    return match.group() if match else None


def text_problem(value, multiline: bool = False):
    """The message to show when `value` holds a refused character, else None."""
    character = forbidden_character(value, multiline)
    if character is None:
        return None
    if character in "\t\n\r":
        return _l("Use a single line, without line breaks or tabs.")
    return _l("Remove the invisible control character (U+%(code)s).", code=f"{ord(character):04X}")


class PlainText(ma.validate.Validator):
    """marshmallow: refuse control characters (`multiline` allows tab and line breaks)."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value):
        problem = text_problem(value, self.multiline)
        if problem is not None:
            raise ma.ValidationError(str(problem))
        return value


class PlainTextField:
    """WTForms: the same rule as a field validator."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline
        self.field_flags = {}

    def __call__(self, form, field):
        from wtforms.validators import ValidationError

        problem = text_problem(field.data, self.multiline)
        if problem is not None:
            raise ValidationError(str(problem))


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Drop what XML 1.0 cannot carry: for output built from rows stored before the rule."""
    return _XML_INVALID.sub("", text)
