"""``vexe``: one console command for the issuer, the validator and the demo.

Errors reach the operator as one clear line on standard error, never a traceback.
"""

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """vexe: monthly and free bus passes on rotating, signed QR codes."""


def _register() -> None:
    # Imported here so that ``vexe --help`` stays fast and each part owns its commands.
    from issuer.cli import commands as issuer_commands
    from validator.cli import commands as validator_commands
    from vexe.demo import demo

    for command in [*issuer_commands, *validator_commands, demo]:
        main.add_command(command)


try:
    _register()
except ImportError as exc:  # a part not installed: say so once, keep the rest usable
    print(f"vexe: {exc}", file=sys.stderr)
