"""The pure domain: values, locations, the stock ledger, orders and fulfilment.

Nothing here does I/O, reads a clock or draws a random number; time always arrives as
an argument. The public names are re-exported from :mod:`omsims`.
"""
