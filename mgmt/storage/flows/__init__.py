"""The storage service's flows, one module per operation."""
