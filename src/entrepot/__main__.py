"""`python -m entrepot` is the `entrepot` command."""

from entrepot.cli import main

main()
