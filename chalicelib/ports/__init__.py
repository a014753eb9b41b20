"""Ports: what services and adapters agree on, below both (docs/architecture.md).

A port module holds the protocols a service talks to and the types that cross them. It imports
only ``chalicelib.domain`` (and the standard library or a pure library such as ``cryptography``
or boto3's type (de)serialisers): services import ports and domain, adapters import ports and
domain, and neither imports the other.
"""
