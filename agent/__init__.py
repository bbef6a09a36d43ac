"""zcloud agents: the programs that run on (or simulate) hypervisor hosts.

`agent.protocol` holds the command and reply models shared with the management nodes;
it imports nothing from `mgmt`, `agent.server` or any agent implementation.
"""
