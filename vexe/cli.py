"""``vexe``: one console command for the issuer, the validator and the demo.

Each part owns its commands; this group only gathers them. Errors reach the operator as one
clear line on standard error, never a traceback.
"""

import click

from idp.cli import commands as idp_commands
from issuer.cli import commands as issuer_commands
from issuer.ridership.cli import commands as ridership_commands
from validator.cli import commands as validator_commands
from vexe.demo import demo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """vexe: monthly and free bus passes on rotating, signed QR codes."""


for _command in [*issuer_commands, *ridership_commands, *validator_commands, *idp_commands,
                 demo]:
    main.add_command(_command)
