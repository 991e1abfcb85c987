"""The JSON API under /api/v1: shared conventions (errors, pagination, OpenAPI)."""
