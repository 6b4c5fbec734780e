"""data.europa.eu's MQA of two catalogues, per dimension: the one ``dev/bench/dcat_mqa.py`` builds from
``make run``'s seeding plus datasets as commune editors make them (``make run`` itself seeds no dataset), and
a harvested one (the DCAT and CKAN source fixtures mapped by our harvesters). Links are checked for real
against a server on 127.0.0.1 and each dataset is SHACL-checked (which stores its MQA facts), as the portal's
background checks would; then ``communes_mqa`` gives the catalogue's points. Run it on two versions of the
code to compare them (issue #25: before and after the DCAT output changes):

    python dev/mqa_catalogues.py --ckan-ini test.ini      # WIPES the test database
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "bench"))
import dcat_mqa  # noqa: E402
from portal import argument_parser, open_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__).parse_args(argv)
    flask_app = open_app(args)
    if flask_app is None:
        return 2
    import ckan.plugins.toolkit as tk

    server, dcat_url, ckan_url = dcat_mqa.open_files_server()
    results = {}
    for catalogue in ("seeded", "harvested"):
        with flask_app.test_request_context():
            from ckanext.communes.quality import shacl

            user, ids = dcat_mqa.build_catalogue(catalogue, server, dcat_url, ckan_url)
            for package_id in ids:
                shacl.check_dataset(package_id)
            results[catalogue] = tk.get_action("communes_mqa")({"ignore_auth": True, "user": user},
                                                               {"scope": "catalogue"})
    for catalogue, result in results.items():
        print(f"{catalogue}: {result['datasets']} datasets, {result['distributions']} distributions, "
              f"{result['pending']} pending: {result['points']:.1f} / {result['max']} ({result['rating_label']})")
        for dimension in result["dimensions"]:
            print(f"  {dimension['name']:<18} {dimension['points']:6.1f} / {dimension['max']}")
            for indicator in dimension["indicators"]:
                print(f"      {indicator['name']:<32} {indicator['points']:6.1f} / {indicator['weight']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
