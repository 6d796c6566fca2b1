"""Rulesets: the file model, the compiler, actions, the engines and the checker."""
