"""Template helpers over the vocabularies (exposed through licences/helpers.get_helpers)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.vocabularies import get_vocabulary, guess_file_type


def _current_lang() -> str:
    try:
        return tk.h.lang() or "fr"
    except (RuntimeError, AttributeError, TypeError):  # outside a request
        return "fr"


def communes_vocabulary_choices(field: dict[str, Any]) -> list[dict[str, str]]:
    """scheming ``choices_helper``: the choices of the vocabulary named by ``field["vocabulary"]``
    (e.g. ``vocabulary: frequency``), values are URIs, labels in the current language."""
    return get_vocabulary(field["vocabulary"]).choices(_current_lang())


def communes_hvd_category_choices(field: dict[str, Any]) -> list[dict[str, str]]:
    """scheming ``choices_helper`` of ``hvd_category``: a sub-category's label names its category
    (« Observation de la Terre et environnement › Eau »), so that a short label reads alone in the form."""
    vocabulary = get_vocabulary("hvd-category")
    lang = _current_lang()
    choices = []
    for term in vocabulary.terms:
        parent = vocabulary.by_uri(term.extra.get("parent") or "")
        label = f"{parent.label(lang)} › {term.label(lang)}" if parent is not None else term.label(lang)
        choices.append({"value": term.uri, "label": label})
    return choices


def communes_vocabulary_label(name: str, value: str, lang: str | None = None) -> str:
    """Label of a term (URI, code or label) of vocabulary ``name``; the value itself if unknown."""
    return get_vocabulary(name).label(value, lang or _current_lang())


def communes_guess_file_type_label(url: str | None = None, media_type: str | None = None) -> str:
    """Short label of the EU file type guessed from a URL / media type ("" if none)."""
    term = guess_file_type(url, media_type)
    return term.label(_current_lang()) if term else ""


def get_helpers() -> dict[str, Any]:
    return {
        "communes_vocabulary_choices": communes_vocabulary_choices,
        "communes_hvd_category_choices": communes_hvd_category_choices,
        "communes_vocabulary_label": communes_vocabulary_label,
        "communes_guess_file_type_label": communes_guess_file_type_label,
    }
