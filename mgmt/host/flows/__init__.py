"""The host operations, one module each: ``add`` (the connect handshake of a new host) and
``reconnect``; ``handshake`` holds the steps they share."""
