"""The package's version, in a module of its own: ``zkservices.__version__`` for users,
and for modules below the package's ``__init__`` (the HTTP check's User-Agent) without
importing the whole package from inside it."""

__version__ = "0.1.0.dev0"
