"""``vexe``: one console command for the issuer, the validator and the demo.

Each part owns its commands; this group only says where they live and imports a part when
one of its commands runs. So ``vexe validator run`` on a bus loads the validator alone, not
the issuer's database layer: it starts faster and stays smaller.
"""

import importlib

import click

# (module, the attribute holding its command or list of commands, the names it provides;
# None: every other name).
PARTS = (
    ("validator.cli", "commands", ("validator", "validate")),
    ("vexe.demo", "demo", ("demo",)),
    ("idp.cli", "commands", ("idp",)),
    ("gateway.cli", "commands", ("gateway",)),
    ("backoffice.cli", "commands", ("ingest", "company", "vehicle")),
    ("backoffice.export_cli", "commands", ("export",)),
    ("issuer.upkeep_cli", "commands", ("secret", "backup", "restore", "trips")),
    ("issuer.payments_cli", "commands", ("bank", "payments", "settlement")),
    ("issuer.reminders_cli", "commands", ("reminders",)),
    ("issuer.cli", "commands", None),
)


# vexe's own packages: one of them missing is a broken install, not a missing extra.
OWN = ("issuer", "backoffice", "validator", "shared", "vexe", "idp", "gateway", "loadtests")


class NotInstalled(click.ClickException):
    """A part whose dependencies are not installed: a bus installs the wheel without the
    issuer's (docs/deploy.md)."""


def _commands(module: str, attribute: str) -> dict[str, click.Command]:
    try:
        found = getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in OWN:
            raise  # vexe itself is broken: not a missing extra
        raise NotInstalled(f"{exc.name} is not installed; this command needs the issuer's "
                           "dependencies: pip install 'vexe[issuer]'") from None
    return {command.name: command for command in (found if isinstance(found, list) else [found])}


class Vexe(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set()
        for module, attribute, _names in PARTS:
            try:
                names.update(_commands(module, attribute))
            except NotInstalled:
                continue  # listed where it can run
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module, attribute, names in PARTS:
            if names is None or name in names:
                return _commands(module, attribute).get(name)
        return None


@click.group(cls=Vexe, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """vexe: monthly and free bus passes on rotating, signed QR codes."""
