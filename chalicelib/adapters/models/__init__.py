"""pynamodb models of the tables where a model helps (decision 0027): one module per table.

Table names differ per stage and per test stack, and local mode reaches DynamoDB on the embedded
emulator, so no model is bound at import: each module has a factory, ``<table>_models(table_name,
endpoint)``, that builds (once per name and endpoint) the model classes of one table. Only the
adapters import this package, lazily (``bootstrap`` imports adapters inside its builders), so
``import app`` never imports pynamodb.
"""
