"""`python -m agentfiles` runs the same entry point as the `agents` console script."""

from agentfiles.entry import main

main()
