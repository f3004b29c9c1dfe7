"""agentfiles: coordinate AI agents through files in a git repository (console script: `agents`)."""

__version__ = "0.1.0"
