"""Cross-cutting pieces: home page, language choice, errors, security headers, pagination."""
