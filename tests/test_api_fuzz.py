"""Schemathesis against our own OpenAPI document, in-process: every operation, anonymous and with
a token, a fixed seed and a bounded number of examples. No 5xx, and every answer conforms to the
schema (status codes, content types, bodies). Writes are rolled back with the test transaction."""
import contextvars

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kim_platform import create_app
from tests.conftest import bearer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))


@pytest.fixture
def token_headers(make_user, make_kim):
    """A pembina of Kabupaten Mamuju who is also admin of a KIM there: most operations have
    something to act on."""
    user = make_user(role="pembina", scope="76.02")
    make_kim(members=[(user, "admin")])
    return bearer(user)


# The document comes from an app of its own (no database needed to describe the API); every call
# goes to the suite's app, whose database work is rolled back after each test.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app({"TESTING": True}))
# The WSGI transport hands the checks the raw body, which an HTTP client would have decompressed.
UNCOMPRESSED = {"Accept-Encoding": "identity"}


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous(case, app):
    # Each call in a fresh context, as a real request: never the test's app context and its `g`.
    contextvars.Context().run(case.call_and_validate, app=app, headers=UNCOMPRESSED, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_with_a_token(case, app, token_headers):
    contextvars.Context().run(case.call_and_validate, app=app, headers={**token_headers, **UNCOMPRESSED}, checks=CHECKS)
