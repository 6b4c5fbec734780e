"""`ckan communes datastore ...`: what the DataStore loader needs to run, set up once (make run, docker)."""

from __future__ import annotations

import ckan.plugins.toolkit as tk
import click

TOKEN_OPTION = "ckanext.xloader.api_token"
TOKEN_NAME = "xloader"


def _valid(token: str | None) -> bool:
    from ckan.lib.api_token import get_user_from_token

    if not token or token == "NOT_SET":
        return False
    try:
        user = get_user_from_token(token)
    except Exception:  # noqa: BLE001 - a token signed with another key, or not a token at all
        return False
    return user is not None and user.state == "active" and bool(user.sysadmin)


def ensure_loader_token(user_name: str, ini_path: str) -> str:
    """ckanext-xloader's API token (it submits jobs and reports their status with it): kept when the
    configuration's one is valid, else a new one of this sysadmin written into the ini. Returns what was done.
    A container whose ini is recreated gets a new token (the old ones stay valid: revoke them in CKAN, or set
    CKANEXT__XLOADER__API_TOKEN once for all)."""
    from ckan.lib.config_tool import config_edit_using_option_strings

    if _valid(tk.config.get(TOKEN_OPTION)):
        return "kept"
    token = tk.get_action("api_token_create")(
        {"ignore_auth": True, "user": user_name}, {"user": user_name, "name": TOKEN_NAME})["token"]
    config_edit_using_option_strings(ini_path, [f"{TOKEN_OPTION} = {token}"], "app:main", edit=False)
    tk.config[TOKEN_OPTION] = token
    return "created"


@click.group(short_help="The DataStore and its loader (ckanext-xloader).")
def datastore() -> None:
    """The DataStore and its loader (ckanext-xloader)."""


@datastore.command("loader-token")
@click.option("--user", "user_name", required=True, help="A sysadmin: the loader acts as this user.")
@click.pass_context
def loader_token(ctx: click.Context, user_name: str) -> None:
    """Give ckanext-xloader a valid API token (ckanext.xloader.api_token in the ini CKAN was started with)."""
    ini = tk.config.get("__file__")
    if not ini:
        raise click.ClickException("no configuration file to write the token into")
    with ctx.meta["flask_app"].test_request_context():
        click.echo(f"xloader API token: {ensure_loader_token(user_name, ini)}")


def get_commands() -> list[click.Command]:
    return [datastore]
