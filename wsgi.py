"""WSGI entry point: `gunicorn wsgi:app` (web) and `flask --app wsgi ...` (CLI)."""

from app import create_app

app = create_app()
