"""courier: assay's example service, a small messaging API that fails the way real services fail."""

__version__ = "0.1.0"
