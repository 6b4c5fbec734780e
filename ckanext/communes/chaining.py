"""Several rooms of this plugin chaining the same CKAN action or auth function (``package_update``: the
harvested-dataset guard, the harvest-source rules, the CSW password masking, the shape check), when CKAN
takes one function per name and plugin: compose them into one chained function. The wiring (plugin.py)
lists the rooms in order with :func:`chain_all`."""

from __future__ import annotations

from typing import Any


def compose(outer: Any, inner: Any) -> Any:
    """``outer(next, context, data_dict)`` whose ``next`` is ``inner`` chained onto CKAN's function."""

    def composed(next_function: Any, context: Any, data_dict: Any) -> Any:
        return outer(lambda ctx, dd: inner(next_function, ctx, dd), context, data_dict)

    # The markers CKAN reads on the functions: chained_action / chained_auth_function, side_effect_free,
    # auth_allow_anonymous_access, auth_audit_exempt.
    for function in (inner, outer):
        composed.__dict__.update(function.__dict__)
    composed.__name__ = getattr(outer, "__name__", "composed")
    composed.__doc__ = getattr(outer, "__doc__", None)
    return composed


def merge_chained(functions: dict[str, Any], ours: dict[str, Any], marker: str) -> dict[str, Any]:
    """``functions`` plus ``ours``; a name in both is composed (ours first) when both carry ``marker``
    ("chained_action" or "chained_auth_function"), an error otherwise (one would silently replace the other)."""
    merged = dict(functions)
    for name, function in ours.items():
        theirs = merged.get(name)
        if theirs is None:
            merged[name] = function
        elif getattr(theirs, marker, False) and getattr(function, marker, False):
            merged[name] = compose(function, theirs)
        else:
            raise ValueError(f"{name!r} defined twice and not both {marker.replace('_', ' ')}")
    return merged


def chain_all(rooms: list[dict[str, Any]], marker: str) -> dict[str, Any]:
    """The functions of every room, in order: a name several rooms chain is composed, each later room
    running before the earlier ones, then CKAN's own (``marker`` as in :func:`merge_chained`)."""
    merged: dict[str, Any] = {}
    for functions in rooms:
        merged = merge_chained(merged, functions, marker)
    return merged
