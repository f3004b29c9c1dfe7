"""`python -m agentfiles` runs the same entry point as the `agents` console script."""

from agentfiles.entry import main

if __name__ == "__main__":  # a cluster's worker processes (spawned) import this module too: they must not run it
    main()
