"""The ``vexe`` command: every part's commands reachable, and a bus loads only the validator."""

import subprocess
import sys

from vexe.cli import PARTS, _commands, main


def test_each_part_provides_exactly_the_names_it_claims():
    """A command added to a part but not to PARTS would be unreachable: this says so."""
    seen: dict[str, str] = {}
    for module, attribute, names in PARTS:
        provided = set(_commands(module, attribute))
        if names is not None:
            assert provided == set(names), module
        for name in provided:
            assert name not in seen, f"{name} in both {seen[name]} and {module}"
            seen[name] = module
    assert set(main.list_commands(None)) == set(seen)


def test_the_validator_command_does_not_load_the_issuer():
    """`vexe validator ...` on a bus: no SQLAlchemy, no Alembic, no Flask issuer app."""
    code = ("import sys; from vexe.cli import main\n"
            "try: main(['validator', '--help'])\n"
            "except SystemExit: pass\n"
            "print(sorted(m for m in ('issuer', 'sqlalchemy', 'alembic') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
