"""`python -m quakeslide`: the same command line as the `quakeslide` script."""

from quakeslide.cli import main

main()
