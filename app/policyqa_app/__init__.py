"""policyqa_app: the chat UI and HTTP API on top of the ``policyqa`` core.

The core never imports this package; it discovers ``policyqa serve`` through the
``policyqa.commands`` entry point.

Example:
    >>> from policyqa_app import create_app
    >>> app = create_app()  # FastAPI: /api/v1/*, /healthz, /readyz, /docs, the UI at /
"""

from __future__ import annotations

from .config import AppSettings
from .server import create_app

__all__ = ["AppSettings", "create_app"]
