"""The image service's flows, one module per operation."""
