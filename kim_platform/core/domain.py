"""The one base class of refusals raised by the domain services.

A service raises a subclass (`KimError`, `ActivityError`, `AccountError`, …) with a message for
people, the inputs at fault and the HTTP status it stands for. It never touches the transaction:
the request edge (core/transaction.py) rolls back whatever an error answer leaves behind. The API
turns an uncaught one into its error body and a page into the error page, both with a 4xx
(core/errors.py); pages with a form catch it to re-render the form. Each domain has its own
subclass and no domain's error subclasses another's: callers that handle any refusal catch
`DomainError`.
"""


class DomainError(ValueError):
    """Refused input or action. `fields` maps input names to messages; `status` is the HTTP answer;
    `code`, when given, replaces the API's machine-readable code for that status."""

    def __init__(self, message, fields: dict | None = None, status: int = 422, code: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.fields = dict(fields or {})
        self.status = status
        self.code = code

    @property
    def http_status(self) -> int:
        """The status the answer carries: a refusal is always a client error, so a `status`
        outside 400-499 (a slip in a service) answers 422 rather than a success or a 500."""
        return self.status if isinstance(self.status, int) and 400 <= self.status < 500 else 422

    def field_messages(self) -> dict[str, str]:
        """The per-field messages as plain strings (lazy translations resolved)."""
        return {str(name): str(text) for name, text in self.fields.items()}
