import pytest, json
from ckan.tests import helpers, factories

@pytest.mark.usefixtures("clean_db", "clean_index")
def test_smoke(bron, sysadmin):
    ds = helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="arbres", title="Arbres",
        notes="Les arbres", owner_org=bron["id"], theme=["ENVI"], frequency="ANNUAL",
        resources=[{"url": "https://example.org/arbres.csv"}])
    print(json.dumps(ds, indent=1, ensure_ascii=False))
    org = helpers.call_action("organization_show", id="bron")
    print(org)
