"""mammobench: a benchmark harness for mammography foundation models.

Importing this package is cheap on purpose: it pulls in no torch and no model code, so listing
plugins and tasks stays fast. Plugins import the public API from :mod:`mammobench.api`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mammobench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
