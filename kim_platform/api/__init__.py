"""The JSON API under /api/v1: shared plumbing that knows no domain (schemas, the OpenAPI documents).

The error body is built in kim_platform.core.api_errors; each domain keeps its routes in its own api.py."""
