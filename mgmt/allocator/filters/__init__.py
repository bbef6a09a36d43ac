"""The allocator's own host filters, one per module, in the order they run (cheap checks
first, capacity last). Registered at ``HOST_FILTERS`` by ``AllocatorPlugin``."""
