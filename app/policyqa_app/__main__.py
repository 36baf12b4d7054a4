"""``python -m policyqa_app [--host HOST] [--port PORT]``: serve the UI and the API."""

import sys

from .cli import main

sys.exit(main())
