"""Small SQL helpers shared by the query modules."""


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally (PostgreSQL's default escape is \\)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
