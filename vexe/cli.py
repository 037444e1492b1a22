"""``vexe``: one console command for the issuer, the validator and the demo.

Errors reach the operator as one clear line on standard error, never a traceback.
"""

import importlib
import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """vexe: monthly and free bus passes on rotating, signed QR codes."""


# Each part owns its commands: (module, attribute holding a command or a list of them).
_PARTS = (("issuer.cli", "commands"), ("validator.cli", "commands"), ("vexe.demo", "demo"))


def _register() -> None:
    # Imported here so that ``vexe --help`` stays fast and each part owns its commands.
    for module_name, attribute in _PARTS:
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:  # a part not installed: say so once, keep the rest usable
            print(f"vexe: {exc}", file=sys.stderr)
            continue
        for command in found if isinstance(found, list) else [found]:
            main.add_command(command)


_register()
