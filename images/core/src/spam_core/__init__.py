"""spam-platform core: one implementation of e-mail parsing and features.

Training, the feature transformer, batch scoring and drift all import this package,
so a feature can never be computed two ways. It has no web-framework or CLI imports.
"""

__version__ = "0.1.0"
