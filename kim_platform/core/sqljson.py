"""JSON values written by PostgreSQL exactly as the API's Python serialisers write them.

The public's hot lists (issue 20) build their items in SQL (`json_build_object`, `json_agg`)
instead of loading ORM objects and dumping them with marshmallow. These helpers give the few
values whose text PostgreSQL would write differently: a timestamp as Python's
`datetime.isoformat()` writes it, and a URL as `url_for` builds it."""
from flask import url_for
from sqlalchemy import JSON, Text, case, func, literal, or_

# Characters url_for never escapes in a path segment (RFC 3986 "unreserved"): a value made of
# them alone is written into the URL as it is, so PostgreSQL can concatenate it.
URL_SAFE_PATTERN = "^[A-Za-z0-9._~-]+$"
_PLACEHOLDER = "SQLJSONPLACEHOLDER"
_NUMERIC_PLACEHOLDER = 918273645546372819  # for an <int:…> argument; digits are always URL-safe


def iso_datetime(column):
    """`column` (timestamptz) as text the way marshmallow's DateTime dumps the value psycopg2
    reads (`datetime.isoformat()` in the session's time zone): fractional seconds only when not
    zero, always six digits, the offset as ±HH:MM. NULL stays NULL. (PostgreSQL's own JSON form
    trims trailing zeros of the fraction: "…:05.12" where Python writes "…:05.120000".)"""
    fraction = case((func.to_char(column, "US") == "000000", ""), else_=func.to_char(column, ".US"))
    return func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS').concat(fraction).concat(func.to_char(column, "TZH:TZM"))


class UrlPattern:
    """`url_for(endpoint, **{arg: value})` for a column of values, built by PostgreSQL: the URL
    of a placeholder cut around it. Exact for values made of URL-safe characters only (those
    url_for writes as they are); `safe(column)` says which rows these are."""

    def __init__(self, endpoint: str, arg: str, numeric: bool = False, **values):
        placeholder = _NUMERIC_PLACEHOLDER if numeric else _PLACEHOLDER
        url = url_for(endpoint, **{arg: placeholder}, **values)
        self.prefix, self.suffix = url.split(str(placeholder))

    def __eq__(self, other):
        return isinstance(other, UrlPattern) and (self.prefix, self.suffix) == (other.prefix, other.suffix)

    def __hash__(self):
        return hash((self.prefix, self.suffix))

    def sql(self, column):
        """The URL of each row's `column` value (NULL where it is NULL)."""
        built = literal(self.prefix, Text).concat(column)
        return built.concat(literal(self.suffix, Text)) if self.suffix else built

    @staticmethod
    def safe(column, nullable: bool = False):
        """SQL boolean: `column` holds only URL-safe characters (or is NULL, when `nullable`)."""
        matches = func.coalesce(column.op("~", is_comparison=True)(URL_SAFE_PATTERN), False)
        return or_(column.is_(None), matches) if nullable else matches


def json_array(item, *order, where=None):
    """SQL aggregate: the rows' `item`s as one JSON array text, in `order` ("[]" for none);
    `where`, a condition on the rows taken (FILTER)."""
    from sqlalchemy import cast
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    aggregated = func.json_agg(aggregate_order_by(item, *order))
    if where is not None:
        aggregated = aggregated.filter(where)
    return cast(func.coalesce(aggregated, literal("[]").cast(JSON)), Text)
