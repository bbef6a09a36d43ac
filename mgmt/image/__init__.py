"""Image service: images downloaded into backup storage."""
