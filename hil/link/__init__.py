"""The V2G link between the controller's SECC and the rig's car: `modes` (loopback, veth), `netns` (the veth
mode's namespaces), `powerline` (the simulated modems and wire that SLAC runs across)."""
