"""The wire: schemas (datamodels), the protocol-agnostic DataPlane, and the REST server."""
