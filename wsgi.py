"""Entry point for `flask` (auto-discovered from the repository root) and gunicorn."""
from kim_platform import create_app

app = create_app()
