"""Context routing: propose which files a step should read for an intent, within a token budget, and
say why each was chosen (`agents route`)."""
