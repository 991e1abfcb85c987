"""Conditional GET for every read: an ETag from the body, and 304 to an If-None-Match that holds it.

The validator is a hash of the answer itself, so it changes whenever the answer does (another
user's, another language's or newer data's body is another body) and can never vouch for a stale
copy. Left alone: answers that set their own ETag (static files, tiles, exports), streamed
answers, answers that set a cookie (the session changed: a flash shown, a login), bodies that
carry the response's CSP nonce (a new one each time: such a page never matches), and anything
but a 200. Flask-Compress, which runs after this, appends the encoding to the ETag of a body it
compresses and answers the revalidation of that form itself."""
import hashlib

from flask import request

from kim_platform.core.security import body_uses_nonce

CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})


def add_etag(response):
    if (request.method not in CONDITIONAL_METHODS or response.status_code != 200 or response.is_streamed
            or response.direct_passthrough or "ETag" in response.headers or "Set-Cookie" in response.headers
            or body_uses_nonce()):
        return response
    response.set_etag(hashlib.blake2b(response.get_data(), digest_size=16).hexdigest())
    if request.if_none_match:
        response.make_conditional(request)
    return response


def init_app(app) -> None:
    """Registered right after Flask-Compress: after_request functions run in reverse order, so
    this one sees the final body (and the session's cookie) and compression comes after it."""
    app.after_request(add_etag)
