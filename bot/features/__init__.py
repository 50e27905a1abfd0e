"""Features: each owns its webhook Router and its job handlers."""
