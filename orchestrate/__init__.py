"""Many stores on Dagster: the stores file (`orchestrate.stores`) and the Dagster
definitions made from it (`orchestrate.definitions`). See docs/many-stores.md.
"""
