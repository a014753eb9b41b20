"""The CDK stack and its parts. Everything is built from ``chalicelib.resources.RESOURCES``.

Import the modules themselves (``infra.stacks.scelle_stack``): this package stays light, because
``infra.stacks.packaging`` runs in a child process that must not load aws_cdk.
"""
