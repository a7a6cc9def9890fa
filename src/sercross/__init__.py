"""sercross: cross-corpus speech emotion recognition, from raw audio folders to honest results."""

__version__ = "0.1.0"

# Bumped whenever the on-disk layout or the meaning of a cached artifact changes, so that
# artifacts written by an older sercross are detected instead of silently reused.
CACHE_VERSION = 1
