"""puhui (普惠): a platform for a bank to lend to small and micro enterprises online.

The package is laid out along the flow of the business:
data → features → models → decisions → actions, with the ways in (CLI, API, web) at the edge.
"""

__version__ = "0.1.0"
