"""``python -m memlab`` is the ``memlab`` command."""

from memlab.cli import console_main

console_main()
