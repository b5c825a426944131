"""Locations the drift job reads and writes: :mod:`spam_core.storage` (one rule for every
package that reads the platform's logs and reports)."""

from spam_core.storage import AZURE_PROTOCOLS, Location, open_location

__all__ = ["AZURE_PROTOCOLS", "Location", "open_location"]
