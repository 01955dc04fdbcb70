"""Logging set-up for the services: one line per event, no request data (no personal data)."""

from __future__ import annotations

import logging


def setup(level: str, name: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
