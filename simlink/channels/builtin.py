"""The built-in environment kinds: importing this module registers them."""
from simlink.channels import cdl, file, gaussian, system_level, tdl  # noqa: F401  (registration)
