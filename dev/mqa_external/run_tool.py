"""Runs YourOpenDAta/mqa-scoring (an open implementation of data.europa.eu's MQA, not ours) on one RDF/XML
file, offline, in the tool's own environment (its pinned rdflib 5.0.0 and requests 2.26.0): called by
dev/mqa_external_check.py, never imported by the portal.

    <tool venv>/bin/python dev/mqa_external/run_tool.py --tool DIR --answers answers.json --file dataset.rdf

The tool fetches while it scores (each access and download URL, each media type's IANA page, each format,
licence and access-right URI as RDF, data.europa.eu's SHACL validator). Here nothing leaves the machine;
those requests get the answers the portal has stored, from ``answers.json``:
- an access or download URL: the HTTP status its last link check stored (``urls``); any other URL fails as
  an unreachable host would (requests.ConnectionError, which the tool counts as not answering);
- an IANA media-type page: 200 when the media type is in IANA's registry (``iana``), else 404;
- an EU authority URI (file type, licence, access right) parsed as RDF: the EU list's published file
  (``vocabularies``: prefix -> local RDF/XML file), which holds the URI when it is a member; any other URI
  fails to parse (as a web page that is not RDF does);
- the SHACL validator: ``{"sh:conforms": <shacl_conforms>}`` (the portal's stored DCAT-AP result).
The tool's code is run unchanged (runpy), its printed report on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys

import rdflib
import requests

IANA = "https://www.iana.org/assignments/media-types/"


class Answer:
    def __init__(self, status: int, text: str = "") -> None:
        self.status_code = status
        self.text = text

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.exceptions.HTTPError(str(self.status_code))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    parser.add_argument("--answers", required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    with open(args.answers, encoding="utf-8") as handle:
        answers = json.load(handle)
    iana = set(answers["iana"])

    def get(url, *_args, **_kwargs):  # noqa: ANN001, ANN202
        url = str(url)
        if url.startswith(IANA):
            return Answer(200 if url[len(IANA):].lower() in iana else 404)
        if url in answers["urls"]:
            return Answer(int(answers["urls"][url]))
        raise requests.exceptions.ConnectionError(f"offline: {url}")

    def post(url, *_args, **_kwargs):  # noqa: ANN001, ANN202
        return Answer(200, json.dumps({"sh:conforms": bool(answers["shacl_conforms"])}))

    real_parse = rdflib.Graph.parse

    def parse(self, source=None, *parse_args, **kwargs):  # noqa: ANN001, ANN202
        text = str(source)
        if text.startswith(("http://", "https://")):
            for prefix, path in answers["vocabularies"].items():
                if text.startswith(prefix):
                    return real_parse(self, path, format="xml")
            raise ValueError(f"offline, not RDF: {text}")
        return real_parse(self, source, *parse_args, **kwargs)

    requests.get = get
    requests.post = post
    rdflib.Graph.parse = parse
    file = os.path.abspath(args.file)
    os.chdir(args.tool)
    sys.path.insert(0, args.tool)
    sys.argv = ["mqa-scoring.py", "-f", file]
    runpy.run_path(os.path.join(args.tool, "mqa-scoring.py"), run_name="__main__")


if __name__ == "__main__":
    main()
