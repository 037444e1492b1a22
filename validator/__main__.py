"""``python -m validator run --config FILE``: the validator alone, without the issuer's code.

``vexe validator run`` is the same command; this entry point loads only what a bus needs,
which keeps start-up and memory small (see BENCHMARKS.md, "Validator device").
"""

from validator.cli import validator_group

if __name__ == "__main__":
    validator_group(prog_name="python -m validator")
