"""Interface wiring of ckanext-communes, the top layer (docs/index.md): each interface gathers what the rooms
offer. Behaviour lives in the rooms: communes/ (profiles, programme), licences/ (registry, normaliser,
policy), vocabularies/ (EU and SCDL lists), schema/ (dataset schema, validators, facets, owner sync), dcat/
(RDF profile, catalogues), harvesters/ (sources, stages, workers), quality/ (score, link checks, SCDL, SHACL),
bilan/ (the programme's assessment), schedule/ (the periodic runner's scheduled tasks), accessibility/ (the
statement, the audit's results); the shared base under
them (net/, web/, geo.py, uris.py, chaining.py, translation.py)."""

from __future__ import annotations

import os
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.communes import chaining, cli, licences
from ckanext.communes.accessibility import helpers as accessibility_helpers
from ckanext.communes.accessibility import views as accessibility_views
from ckanext.communes.bilan import actions as bilan_actions
from ckanext.communes.bilan import auth as bilan_auth
from ckanext.communes.bilan import cache as bilan_cache
from ckanext.communes.bilan import helpers as bilan_helpers
from ckanext.communes.bilan import indexing as bilan_indexing
from ckanext.communes.bilan import mqa as bilan_mqa
from ckanext.communes.bilan import views as bilan_views
from ckanext.communes.communes import actions as commune_actions
from ckanext.communes.communes import auth as commune_auth
from ckanext.communes.communes import helpers as commune_helpers
from ckanext.communes.communes import validators as commune_validators
from ckanext.communes.communes import views as commune_views
from ckanext.communes.dataapi import helpers as dataapi_helpers
from ckanext.communes.dataapi import loader_guard
from ckanext.communes.dcat import distribution as dcat_distribution
from ckanext.communes.dcat import views as dcat_views
from ckanext.communes.harvesters import actions as harvest_actions
from ckanext.communes.harvesters import auth as harvest_auth
from ckanext.communes.harvesters import credentials as harvest_credentials
from ckanext.communes.harvesters import facets as harvest_facets
from ckanext.communes.harvesters import job_reading as harvest_job_reading
from ckanext.communes.harvesters import licence_aliases
from ckanext.communes.harvesters import operators as harvest_operators
from ckanext.communes.harvesters import protection as harvest_protection
from ckanext.communes.harvesters import views as harvest_views
from ckanext.communes.harvesters import visibility as harvest_visibility
from ckanext.communes.harvesters import workers as harvest_workers
from ckanext.communes.licences import helpers as licence_helpers
from ckanext.communes.licences import validators as licence_validators
from ckanext.communes.licences import views as licence_views
from ckanext.communes.quality import helpers as quality_helpers
from ckanext.communes.quality import hooks as quality_hooks
from ckanext.communes.schedule import runner as schedule_runner
from ckanext.communes.schedule import views as schedule_views
from ckanext.communes.schema import auth as schema_auth
from ckanext.communes.schema import helpers as schema_helpers
from ckanext.communes.schema import indexing, maps, owner_sync, place_views, spatial
from ckanext.communes.schema import validators as schema_validators
from ckanext.communes.vocabularies import helpers as vocabulary_helpers
from ckanext.communes.web import action_guard, api_guard, csrf, query_guard, uncaught_errors


@tk.blanket.config_declarations
class CommunesPlugin(p.SingletonPlugin):
    p.implements(p.IConfigurer)
    p.implements(p.IConfigurable)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IValidators)
    p.implements(p.ITemplateHelpers)
    p.implements(p.IClick)
    p.implements(p.IBlueprint)
    p.implements(p.IPackageController, inherit=True)
    p.implements(p.IFacets, inherit=True)
    p.implements(p.ITranslation)
    p.implements(p.IMiddleware, inherit=True)
    p.implements(p.IPermissionLabels)
    p.implements(p.ISignal)

    # IConfigurer
    def update_config(self, config_: tk.CKANConfig) -> None:
        tk.add_template_directory(config_, "templates")
        tk.add_public_directory(config_, "public")
        tk.add_resource("assets", "communes")
        # CKAN's default list has no Licence Ouverte: serve our registry unless an operator chose another.
        if not config_.get("licenses_group_url"):
            config_["licenses_group_url"] = "file://" + licences.CKAN_LICENCES_FILE
        # No request to an outside host unless an operator asks: CKAN's default avatar is fetched from
        # gravatar.com by every reader's browser.
        if not tk.asbool(config_.get("ckanext.communes.avatars.gravatar", False)):
            config_["ckan.gravatar_default"] = "disabled"

    # IConfigurable
    def configure(self, config_: tk.CKANConfig) -> None:
        # ckanext-xloader's downloads through the guarded client (dataapi/loader_guard.py says why a
        # replacement of its functions): at every load, before any job of this process runs.
        loader_guard.install()

    # IActions
    def get_actions(self) -> dict[str, Any]:
        # CKAN takes one function per name and plugin: where several rooms chain the same action, they are
        # composed, each later room running before the earlier ones (chaining.py). The communes' check of
        # an organisation edit runs inside the owner sync that watches it; the harvest rules
        # (package_update...) before the rooms' own; the CSW type's password masking before those; the
        # shape check of what CKAN's dataset actions receive before anyone reads it.
        return chaining.chain_all([
            commune_actions.get_actions(), owner_sync.get_actions(), harvest_operators.get_actions(),
            licence_aliases.get_actions(), harvest_protection.get_actions(), bilan_actions.get_actions(),
            bilan_mqa.get_actions(),
            harvest_visibility.get_actions(),
            harvest_job_reading.get_actions(), harvest_actions.get_actions(), harvest_credentials.get_actions(),
            action_guard.get_actions()], "chained_action")

    # IAuthFunctions
    def get_auth_functions(self) -> dict[str, Any]:
        # The harvest rules run first and pass the datasets they do not own on to the schema's.
        return chaining.chain_all([
            commune_auth.get_auth_functions(), schema_auth.get_auth_functions(),
            harvest_operators.get_auth_functions(), licence_aliases.get_auth_functions(),
            bilan_auth.get_auth_functions(), bilan_mqa.get_auth_functions(),
            action_guard.get_auth_functions(), harvest_auth.get_auth_functions()], "chained_auth_function")

    # ISignal: rooms react to each other's actions through CKAN's signals, not through imports.
    def get_signal_subscriptions(self) -> dict[Any, Any]:
        # The periodic runner's rounds (harvesters/) run the schedule's due tasks (schedule/); the DCAT profile
        # (dcat/) states the sizes the link checker (quality/) measured.
        return {tk.signals.action_succeeded: [bilan_cache.on_action_succeeded],
                harvest_workers.periodic_round: [schedule_runner.on_periodic_round],
                dcat_distribution.measured_links_signal: [quality_hooks.on_measured_links]}

    # IValidators
    def get_validators(self) -> dict[str, Any]:
        return {
            **commune_validators.get_validators(),
            **schema_validators.get_validators(),
            **licence_validators.get_validators(),
        }

    # ITemplateHelpers
    def get_helpers(self) -> dict[str, Any]:
        return {
            **commune_helpers.get_helpers(),
            **schema_helpers.get_helpers(),
            **maps.get_helpers(),
            **licence_helpers.get_helpers(),
            **vocabulary_helpers.get_helpers(),
            **harvest_protection.get_helpers(),
            **harvest_views.get_helpers(),
            **harvest_auth.get_helpers(),
            **quality_helpers.get_helpers(),
            **bilan_helpers.get_helpers(),
            **schedule_views.get_helpers(),
            **accessibility_helpers.get_helpers(),
            **dataapi_helpers.get_helpers(),
        }

    # IClick
    def get_commands(self) -> list[Any]:
        return cli.get_commands()

    # IBlueprint
    def get_blueprint(self) -> list[Any]:
        return (commune_views.get_blueprints() + dcat_views.get_blueprints() + licence_views.get_blueprints()
                + harvest_views.get_blueprints() + bilan_views.get_blueprints() + schedule_views.get_blueprints()
                + accessibility_views.get_blueprints() + place_views.get_blueprints())

    # IPackageController
    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        # The bilan counts what the index holds: any reindex (save, background check, rebuild) outdates it.
        bilan_cache.bump()
        # bilan_indexing reads the fields the two others set (score, missed criteria, frequency).
        return bilan_indexing.before_dataset_index(
            quality_hooks.before_dataset_index(indexing.before_dataset_index(pkg_dict)))

    def after_dataset_show(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        quality_hooks.after_dataset_show(context, pkg_dict)

    # A save never waits for the quality checks: they are queued (SHACL, links, SCDL).
    def after_dataset_create(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        quality_hooks.after_dataset_change(context, pkg_dict)

    def after_dataset_update(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        quality_hooks.after_dataset_change(context, pkg_dict)

    def after_dataset_delete(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        bilan_cache.bump()  # a deleted dataset leaves the index without being indexed again

    def before_dataset_search(self, search_params: dict[str, Any]) -> dict[str, Any]:
        # A bounding box ckanext-spatial cannot use is refused (French 400) before its own hook reads it.
        return harvest_visibility.restrict_harvest_sources(spatial.check_bbox_search(search_params))

    def after_dataset_search(self, search_results: dict[str, Any], search_params: dict[str, Any]) -> dict[str, Any]:
        search_results = harvest_job_reading.hide_in_search_results(harvest_facets.label_source_facets(search_results))
        return quality_hooks.after_dataset_search(indexing.after_dataset_search(search_results, search_params),
                                                  search_params)

    # IFacets
    def dataset_facets(self, facets_dict: dict[str, Any], package_type: str) -> dict[str, Any]:
        return indexing.dataset_facets(facets_dict, package_type)

    # IMiddleware
    def make_middleware(self, app: Any, config: Any) -> Any:
        # CKAN's CSRF exemption of anonymous and API-token requests must not outlive the request;
        # an absurdly nested API body, or a query parameter CKAN would choke on, is a 400, not a 500.
        # Errors a page does not catch (a search Solr cannot parse, an action refusing): 400, 403, 404.
        return uncaught_errors.install(
            query_guard.install(api_guard.install(csrf.scope_exemptions_to_requests(app))))

    # IPermissionLabels: harvest sources for operators and their organisation's members (CKAN's otherwise)
    def get_dataset_labels(self, dataset_obj: Any) -> list[str]:
        return harvest_visibility.dataset_labels(dataset_obj)

    def get_user_dataset_labels(self, user_obj: Any) -> list[str]:
        return harvest_visibility.user_dataset_labels(user_obj)

    # ITranslation
    def i18n_directory(self) -> str:
        return os.path.join(os.path.dirname(__file__), "i18n")

    def i18n_locales(self) -> list[str]:
        return ["fr"]

    def i18n_domain(self) -> str:
        return "ckanext-communes"
