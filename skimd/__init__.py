"""skimd: an unattended ASX opening-gap trading daemon with an encrypted trade journal."""

__version__ = "0.1.0"
