"""zcloud management plane: management nodes, API frontends and the all-in-one."""
