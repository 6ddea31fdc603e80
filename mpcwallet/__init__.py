"""mpcwallet: a 2-of-2 threshold-ECDSA wallet for EVM chains."""

__version__ = "0.1.0"
