"""Flask blueprints."""

from __future__ import annotations

from flask import Blueprint


def get_blueprints() -> list[Blueprint]:
    return []
