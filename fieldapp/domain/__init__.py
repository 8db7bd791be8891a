"""Domain rules with one home each, and no Flask in them (see the README's *Layout*)."""
