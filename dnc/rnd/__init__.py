"""Reassigned numbers (RULES.md 3a): the answers of the RND on file, loaded and asked for."""
