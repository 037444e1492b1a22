"""The ``vexe`` command line and the demo."""
