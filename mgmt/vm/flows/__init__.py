"""The VM service's flows: one module per operation (create, start, stop, reboot, pause,
resume, destroy); the steps several of them share are in ``steps``."""
