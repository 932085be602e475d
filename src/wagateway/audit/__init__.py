"""The audit log: who did what to which project or device, from where."""
