"""The licence normaliser against licence strings as French portals write them (issue #22).

Each row: the string as a source writes it, the source type whose convention applies (None: no convention,
the strictest reading), and the registry id it designates, or None when it designates no single licence.
The ids are typed out, never derived from the registry. The rule the table enforces above any recall:
never a wrong licence. A string that could be two licences (a version missing where versions differ) maps to
None unless the source type's convention (licences/data/conventions/) settles it.
"""

from __future__ import annotations

import pytest

from ckanext.communes.licences.normalise import normalize_licence

EU = "http://publications.europa.eu/resource/authority/licence/"

STRINGS: list[tuple[str, str | None, str | None]] = [
    # --- Issue #22: what an Opendatasoft portal harvested by data.gouv.fr showed, and what a person reads at once.
    ("Licence Ouverte (Etalab)", None, None),  # 1.0 or 2.0: Opendatasoft offers both
    ("Licence Ouverte (Etalab)", "ods", "fr-lo"),  # Opendatasoft's label of 1.0 (udata-ods' LICENSES map)
    ("Public Domain", None, "other-pd"),
    ("Public Domain", "ods", "other-pd"),
    ("CC BY-NC", None, None),  # no version: CC BY-NC 1.0 to 4.0 differ
    ("CC BY-NC", "ods", None),
    ("etalab 2.0", None, "etalab-2.0"),
    ("Licence Ouverte v1", None, "fr-lo"),
    ("Licence ouverte d'Etalab v2.0", None, "etalab-2.0"),
    ("ODbL 1.0 (Open Database License)", None, "ODbL-1.0"),
    ("Creative Commons Attribution-ShareAlike 4.0", None, "CC-BY-SA-4.0"),
    ("Licence Ouvert v2.0", None, "etalab-2.0"),  # one letter off in a family word
    ("Creatve Commons Attribution 4.0", None, "CC-BY-4.0"),
    ("Licence Ouverte v2.O", None, None),  # never a typo tolerance on a version...
    ("Creative Commons Attribution-ShareAlke 4.0", None, None),  # ... nor on the BY/SA/NC/ND conditions
    ("CC BY-SB 4.0", None, None),
    # --- data.gouv.fr's licence list (its API /api/1/datasets/licenses/, copy in /work/shared/reference/
    # datagouv-licences.json): the ids a udata source writes are exact; its titles; the alternate titles udata
    # itself accepts for lov2.
    ("lov2", "udata", "etalab-2.0"),
    ("fr-lo", "udata", "fr-lo"),
    ("odc-odbl", "udata", "ODbL-1.0"),
    ("cc-by", "udata", "CC-BY-4.0"),
    ("cc-by-sa", "udata", "CC-BY-SA-4.0"),
    ("cc-zero", "udata", "CC0-1.0"),
    ("odc-pddl", "udata", "PDDL-1.0"),
    ("odc-by", "udata", "ODC-By-1.0"),
    ("notspecified", "udata", "notspecified"),
    ("other-at", "udata", "other-at"),
    ("other-open", "udata", "other-open"),
    ("other-pd", "udata", "other-pd"),
    ("lov2", None, "etalab-2.0"),
    ("cc-by", None, "CC-BY-4.0"),  # the slug CKAN and udata define by opendefinition.org/licenses/cc-by
    ("Licence Ouverte / Open Licence version 2.0", None, "etalab-2.0"),
    ("Licence Ouverte / Open Licence", None, None),  # the 1.0 text's own title, but no version written
    ("Licence Ouverte / Open Licence", "udata", "fr-lo"),  # data.gouv.fr's title of fr-lo
    ("LO/OL", None, None),
    ("LO/OL", "udata", "fr-lo"),
    ("Creative Commons Attribution", None, None),
    ("Creative Commons Attribution", "udata", "CC-BY-4.0"),
    ("Creative Commons Attribution Share-Alike", None, None),
    ("Creative Commons Attribution Share-Alike", "udata", "CC-BY-SA-4.0"),
    ("Creative Commons CCZero", None, "CC0-1.0"),
    ("Open Data Commons Open Database License (ODbL)", None, "ODbL-1.0"),
    ("Open Data Commons Attribution License", None, "ODC-By-1.0"),
    ("Open Data Commons Public Domain Dedication and Licence (PDDL)", None, "PDDL-1.0"),
    ("License Not Specified", None, "notspecified"),
    ("Other (Public Domain)", None, "other-pd"),
    ("Other (Attribution)", None, "other-at"),
    ("Other (Open)", None, "other-open"),
    ("License Etalab v2", None, "etalab-2.0"),
    ("License Etalab v2.0", None, "etalab-2.0"),
    ("Licence Ouverte v2", None, "etalab-2.0"),
    ("Licence Ouverte version 2.0", None, "etalab-2.0"),
    ("Open Licence v2", None, "etalab-2.0"),
    ("Open Licence version 2.0", None, "etalab-2.0"),
    ("Licence Ouverte / Open Licence v2", None, "etalab-2.0"),
    ("License Etalab", None, None),  # udata guessed it wrong by edit distance (udata #2618)
    ("License Ouverte", None, None),
    ("Licence Etalab", None, None),
    # --- data.gouv.fr dataset pages and producers' own wording (licence shown on dataset pages, README files).
    ("Licence Ouverte 2.0", None, "etalab-2.0"),
    ("Licence ouverte 2.0", None, "etalab-2.0"),
    ("Licence Ouverte / Open Licence 2.0", None, "etalab-2.0"),
    ("Licence Ouverte 2.0 (Etalab)", None, "etalab-2.0"),
    ("Licence Ouverte Etalab 2.0", None, "etalab-2.0"),
    ("Licence Ouverte Etalab version 2.0", None, "etalab-2.0"),
    ("licence ouverte etalab v2", None, "etalab-2.0"),
    ("LICENCE OUVERTE V2.0", None, "etalab-2.0"),
    ("Licence Ouverte V2", None, "etalab-2.0"),
    ("Licence Ouverte, version 2.0", None, "etalab-2.0"),
    ("Licence Ouverte - version 2.0", None, "etalab-2.0"),
    ("Licence Ouverte 2", None, "etalab-2.0"),
    ("Licence Ouverte v.2.0", None, None),  # "v.2.0" is not a version this reader trusts
    ("Etalab-2.0", None, "etalab-2.0"),
    ("Etalab 2.0", None, "etalab-2.0"),
    ("Etalab Open Licence 2.0", None, "etalab-2.0"),
    ("Open Licence 2.0 / Licence Ouverte 2.0", None, "etalab-2.0"),
    ("Licence Ouverte 1.0", None, "fr-lo"),
    ("Licence Ouverte version 1.0", None, "fr-lo"),
    ("Licence Ouverte v1.0", None, "fr-lo"),
    ("Licence ouverte d'Etalab", None, None),
    ("Licence ouverte Etalab", None, None),
    ("Licence Ouverte", None, None),
    ("licence ouverte", None, None),
    ("Open Licence", None, None),
    ("Etalab", None, None),
    ("Licence Ouverte 3.0", None, None),  # no such version
    ("Licence Ouverte v2.0 sauf les photographies", None, None),  # words the reader does not know: none
    ("Licence Ouvert", None, None),  # a typo does not supply the missing version
    ("Licence Ouverte v2.1", None, None),
    ("Licence Ouverte v20", None, None),
    ("License Ouverte v2.0", None, "etalab-2.0"),
    ("Licence Ouverte Version 2.0 (Etalab)", None, "etalab-2.0"),
    ("Licence Ouverte / Open Licence (Etalab) 2.0", None, "etalab-2.0"),
    # --- Opendatasoft domains' licence labels (metas.default.license; udata-ods' LICENSES map: "Open Database
    # License (ODbL)", "Licence Ouverte (Etalab)", "Licence ouverte / Open Licence", "CC BY-SA", "Public Domain").
    ("Licence Ouverte v2.0 (Etalab)", "ods", "etalab-2.0"),
    ("Licence Ouverte v2.0 (Etalab)", None, "etalab-2.0"),
    ("Licence Ouverte v1.0 (Etalab)", "ods", "fr-lo"),
    ("Licence ouverte / Open Licence", "ods", "fr-lo"),
    ("Open Database License (ODbL)", "ods", "ODbL-1.0"),
    ("Open Database License (ODbL)", None, "ODbL-1.0"),
    ("CC BY-SA", "ods", None),  # udata-ods maps it to cc-by-sa, but no version is written
    ("CC BY-SA", None, None),
    ("CC BY 4.0", "ods", "CC-BY-4.0"),
    ("CC BY-SA 4.0", None, "CC-BY-SA-4.0"),
    ("CC BY-NC 4.0", None, "CC-BY-NC-4.0"),
    ("CC BY-NC-SA 4.0", None, "CC-BY-NC-SA-4.0"),
    ("CC BY-ND 4.0", None, "CC-BY-ND-4.0"),
    ("CC BY-NC-ND 4.0", None, "CC-BY-NC-ND-4.0"),
    ("CC BY-SA 3.0", None, "CC-BY-SA-3.0"),
    ("CC BY 3.0", None, "CC-BY-3.0"),
    ("CC BY 2.0", None, None),  # not in the registry
    ("CC BY-ND-SA 4.0", None, None),  # no such licence
    ("Attribution-ShareAlike 4.0 International", None, "CC-BY-SA-4.0"),  # Creative Commons' own title
    ("SA 4.0", None, None),  # conditions alone name nothing
    ("NC 4.0", None, None),
    ("CC0 1.0", None, "CC0-1.0"),
    ("CC0", None, "CC0-1.0"),  # only one version exists
    ("Licence Ouverte", "ods", None),
    ("Open Data Commons Attribution License (ODC-By)", "ods", "ODC-By-1.0"),
    ("ODC-BY 1.0", None, "ODC-By-1.0"),
    ("PDDL", None, "PDDL-1.0"),
    ("ODbL", None, "ODbL-1.0"),  # only 1.0 exists
    ("ODbL", "ods", "ODbL-1.0"),
    ("ODBL", None, "ODbL-1.0"),
    ("Licence ODbL", None, "ODbL-1.0"),
    ("ODbL v1.0", None, "ODbL-1.0"),
    ("ODbL 2.0", None, None),
    ("Domaine public", None, "other-pd"),
    ("Licence Engagée", None, "grandlyon-engagee"),
    ("Licence Associée", "ods", "grandlyon-associee"),
    # --- CKAN portals: CKAN 2.12's default licence list (ckan/model/license.py) ids and titles, under the ckan
    # convention; only the ids that designate a single registry licence map.
    ("cc-by", "ckan", "CC-BY-4.0"),
    ("cc-by-sa", "ckan", "CC-BY-SA-4.0"),
    ("cc-zero", "ckan", "CC0-1.0"),
    ("cc-nc", "ckan", None),  # "Creative Commons Non-Commercial (Any)": any version
    ("odc-odbl", "ckan", "ODbL-1.0"),
    ("odc-by", "ckan", "ODC-By-1.0"),
    ("odc-pddl", "ckan", "PDDL-1.0"),
    ("gfdl", "ckan", None),  # not in the registry
    ("uk-ogl", "ckan", None),  # OGL v3 in CKAN's list, not in the registry
    ("other-open", "ckan", "other-open"),
    ("other-pd", "ckan", "other-pd"),
    ("other-at", "ckan", "other-at"),
    ("other-nc", "ckan", "other-nc"),
    ("other-closed", "ckan", "other-closed"),
    ("notspecified", "ckan", "notspecified"),
    ("Creative Commons Attribution", "ckan", "CC-BY-4.0"),
    ("Creative Commons Non-Commercial (Any)", "ckan", None),
    ("Open Data Commons Public Domain Dedication and License (PDDL)", "ckan", "PDDL-1.0"),
    ("License not specified", "ckan", "notspecified"),
    ("UK Open Government Licence (OGL)", "ckan", None),
    ("GNU Free Documentation License", "ckan", None),
    ("CC-BY", None, None),
    ("CC BY", None, None),
    ("CC BY", "ckan", None),
    ("CC-BY-SA", None, None),
    ("http://www.opendefinition.org/licenses/cc-by", "ckan", "CC-BY-4.0"),
    ("http://www.opendefinition.org/licenses/odc-odbl", None, "ODbL-1.0"),
    ("http://www.opendefinition.org/licenses/cc-zero", None, "CC0-1.0"),
    ("http://creativecommons.org/licenses/by-nc/2.0/", "ckan", None),  # cc-nc's URL: CC BY-NC 2.0, not held
    # --- URLs: Creative Commons deeds and legal codes, language suffixes, ports.
    ("https://creativecommons.org/licenses/by/4.0/", None, "CC-BY-4.0"),
    ("http://creativecommons.org/licenses/by/4.0", None, "CC-BY-4.0"),
    ("https://creativecommons.org/licenses/by/4.0/deed.fr", None, "CC-BY-4.0"),
    ("https://creativecommons.org/licenses/by/4.0/legalcode.fr", None, "CC-BY-4.0"),
    ("https://creativecommons.org/licenses/by-sa/4.0/deed.en", None, "CC-BY-SA-4.0"),
    ("https://creativecommons.org/licenses/by-nc/4.0/", None, "CC-BY-NC-4.0"),
    ("https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode", None, "CC-BY-NC-SA-4.0"),
    ("https://creativecommons.org/licenses/by-nd/4.0/deed.fr", None, "CC-BY-ND-4.0"),
    ("https://creativecommons.org/licenses/by/3.0/", None, "CC-BY-3.0"),
    ("https://creativecommons.org/licenses/by/3.0/fr/", None, None),  # the French port is another licence
    ("https://creativecommons.org/licenses/by-sa/3.0/deed.fr", None, "CC-BY-SA-3.0"),
    ("https://creativecommons.org/licenses/by/2.0/", None, None),
    ("https://creativecommons.org/publicdomain/zero/1.0/deed.fr", None, "CC0-1.0"),
    ("https://creativecommons.org/licenses/", None, None),
    # --- URLs: Open Data Commons.
    ("https://opendatacommons.org/licenses/odbl/1-0/", None, "ODbL-1.0"),
    ("http://opendatacommons.org/licenses/odbl/1.0/", None, "ODbL-1.0"),
    ("https://opendatacommons.org/licenses/odbl/summary/", None, "ODbL-1.0"),
    ("https://opendatacommons.org/licenses/by/1-0/", None, "ODC-By-1.0"),
    ("https://opendatacommons.org/licenses/pddl/1-0/", None, "PDDL-1.0"),
    ("http://www.opendatacommons.org/licenses/pddl/summary/", None, "PDDL-1.0"),
    ("https://opendatacommons.org/licenses/odbl/1-0/index.html", None, "ODbL-1.0"),
    # --- URLs: EU licence NAL (DCAT-AP dct:license), http or https, trailing slash.
    (EU + "ETALAB_2_0", None, "etalab-2.0"),
    ("https://publications.europa.eu/resource/authority/licence/ETALAB_2_0/", None, "etalab-2.0"),
    (EU + "ODC_BL", "dcat", "ODbL-1.0"),
    (EU + "CC_BY_4_0", "dcat", "CC-BY-4.0"),
    (EU + "CC_BYSA_4_0", None, "CC-BY-SA-4.0"),
    (EU + "CC0", None, "CC0-1.0"),
    (EU + "ODC_BY", None, "ODC-By-1.0"),
    (EU + "ODC_PDDL", None, "PDDL-1.0"),
    (EU + "CC_BYNC_4_0", None, "CC-BY-NC-4.0"),
    (EU + "CC_BY", "dcat", None),  # deprecated, version-less concept
    (EU + "CC_BY_3_0_AT", None, None),
    # --- SPDX ids and spdx.org pages.
    ("ODbL-1.0", None, "ODbL-1.0"),
    ("CC-BY-4.0", None, "CC-BY-4.0"),
    ("CC-BY-SA-4.0", None, "CC-BY-SA-4.0"),
    ("CC-BY-NC-4.0", None, "CC-BY-NC-4.0"),
    ("CC0-1.0", None, "CC0-1.0"),
    ("ODC-By-1.0", None, "ODC-By-1.0"),
    ("PDDL-1.0", None, "PDDL-1.0"),
    ("https://spdx.org/licenses/etalab-2.0.html", None, "etalab-2.0"),
    ("https://spdx.org/licenses/ODbL-1.0.html", None, "ODbL-1.0"),
    ("spdx.org/licenses/CC-BY-4.0", None, "CC-BY-4.0"),
    ("https://spdx.org/licenses/CC-BY-NC-4.0.html", None, "CC-BY-NC-4.0"),
    # --- URLs: Etalab's and data.gouv.fr's pages of the Licence Ouverte.
    ("https://www.etalab.gouv.fr/licence-ouverte-open-licence", None, "etalab-2.0"),
    ("http://www.etalab.gouv.fr/licence-ouverte-open-licence/", "ods", "etalab-2.0"),
    ("https://www.etalab.gouv.fr/wp-content/uploads/2017/04/ETALAB-Licence-Ouverte-v2.0.pdf", None, "etalab-2.0"),
    ("https://www.etalab.gouv.fr/wp-content/uploads/2014/05/Licence_Ouverte.pdf", None, "fr-lo"),
    ("https://www.etalab.gouv.fr/wp-content/uploads/2018/11/open-licence.pdf", None, "etalab-2.0"),
    ("https://github.com/etalab/licence-ouverte/blob/master/LO.md", None, "etalab-2.0"),
    ("https://www.data.gouv.fr/fr/pages/legal/licences/etalab-2.0", None, "etalab-2.0"),
    ("https://www.data.gouv.fr/pages/legal/licences/etalab-1.0/", None, "fr-lo"),
    ("https://www.data.gouv.fr/fr/licences", None, None),
    ("https://www.etalab.gouv.fr/", None, None),
    # --- GeoNetwork constraints (ISO 19139 useLimitation / otherConstraints, e.g. data.grandlyon.com's CSW):
    # access constraints and conditions are not licences.
    ("Pas de restriction d'accès public", "csw", None),
    ("Pas de restriction d'accès public selon INSPIRE", "csw", None),
    ("Aucune condition ne s'applique", "csw", None),
    ("Conditions inconnues", "csw", None),
    ("Pas de restriction d’accès public", None, None),
    ("http://inspire.ec.europa.eu/metadata-codelist/LimitationsOnPublicAccess/noLimitations", "csw", None),
    ("Licence ouverte Etalab", "csw", None),
    ("Licence Ouverte Etalab 2.0", "csw", "etalab-2.0"),
    ("Licence ouverte version 2.0", "csw", "etalab-2.0"),
    ("Licence Engagée", "csw", "grandlyon-engagee"),
    ("Licence Associée", "csw", "grandlyon-associee"),
    ("Licence ODbL", "csw", "ODbL-1.0"),
    ("Usage libre sous réserve des mentions obligatoires sur tout document de diffusion", "csw", None),
    ("Données soumises à licence", "csw", None),
    # ... and links in the text: the link settles the version a version-less name leaves open, when both agree.
    ("Licence Ouverte version 2.0 https://www.etalab.gouv.fr/licence-ouverte-open-licence", "csw", "etalab-2.0"),
    ("Licence ouverte Etalab : https://www.etalab.gouv.fr/licence-ouverte-open-licence/", "csw", "etalab-2.0"),
    ("Licence ODbL (http://opendatacommons.org/licenses/odbl/)", "csw", "ODbL-1.0"),
    ("Licence Ouverte 1.0 https://www.etalab.gouv.fr/licence-ouverte-open-licence", "csw", None),  # disagree
    ("Licence Ouverte, voir https://www.ville-exemple.fr/conditions", "csw", None),  # an unknown link
    ("Conditions d'utilisation : https://www.etalab.gouv.fr/licence-ouverte-open-licence", "csw", None),
    ("ODbL https://creativecommons.org/licenses/by/4.0/", None, None),  # two licences
    # --- the software licences of the registry (CRPA D323-2-1's list for source code).
    ("Apache-2.0", None, "Apache-2.0"),
    ("Apache License 2.0", None, "Apache-2.0"),
    ("Apache License, Version 2.0", None, "Apache-2.0"),
    ("Apache", None, None),
    ("MIT", None, "MIT"),
    ("Licence MIT", None, "MIT"),
    ("The MIT License", None, "MIT"),
    ("EUPL-1.2", None, "EUPL-1.2"),
    ("EUPL v1.2", None, "EUPL-1.2"),
    ("EUPL", None, None),  # 1.0, 1.1 and 1.2 exist
    ("GPL-3.0-or-later", None, "GPL-3.0-or-later"),
    ("GPL-3.0", None, None),  # "only": not the registry's "or later"
    ("GNU GPL v3", None, None),
    ("GPLv3+", None, "GPL-3.0-or-later"),
    ("CeCILL-B", None, "CECILL-B"),
    ("CeCILL v2.1", None, "CECILL-2.1"),
    ("CeCILL", None, None),
    ("MPL-2.0", None, "MPL-2.0"),
    ("Mozilla Public License 2.0", None, "MPL-2.0"),
    ("BSD-3-Clause", None, "BSD-3-Clause"),
    ("BSD", None, None),
    # --- junk, empty and unknown values.
    ("", None, None),
    ("   ", None, None),
    ("n/a", None, None),
    ("-", None, None),
    ("Licence propriétaire", None, None),
    ("https://example.org/licence", None, None),
    ("Voir conditions générales d'utilisation", None, None),
]


def test_the_table_is_large_enough_and_has_no_duplicate_row():
    assert len(STRINGS) >= 150
    assert len({(value, convention) for value, convention, _ in STRINGS}) == len(STRINGS)


@pytest.mark.parametrize(("value", "convention", "expected"), STRINGS)
def test_licence_string(value, convention, expected):
    match = normalize_licence(value, convention)
    assert (match.licence.id if match.licence else None) == expected
    assert match.original == value


def test_zero_wrong_over_the_whole_table():
    """One assertion over every row: the count of wrong licences (an id where another or none is expected)
    is zero. Recall misses (none where an id is expected) are listed too, separately."""
    wrong, missed = [], []
    for value, convention, expected in STRINGS:
        found = normalize_licence(value, convention).licence
        found_id = found.id if found else None
        if found_id != expected:
            (missed if found_id is None else wrong).append((value, convention, expected, found_id))
    assert (wrong, missed) == ([], [])
