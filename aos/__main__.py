"""`python -m aos`: the operator's command."""

from aos.cli import console

console()
