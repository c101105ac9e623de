"""Webhook events → the listing's desired state.

``vocabulary`` names the six event types and their fields; ``parse`` decodes a body and checks an
event on its own (``fields`` and ``payloads`` read its envelope and type-specific parts); ``apply``
folds a valid event into the desired state.
"""
