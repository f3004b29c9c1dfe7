"""The HTML report of a project: its task graph, every step of its history and what each step saw, did
and left, as a static site (collect.py reads, picture.py draws, pages and steps render, site.py writes)."""
