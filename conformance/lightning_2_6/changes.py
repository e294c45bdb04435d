"""The differences the 2.6 series makes, declared: what the differential family may see between
Lightning 2.6.6 and 2.6.6 with the series (`conformance/differential.py` says what a change is).
"""
from conformance.differential import Change

CHANGES = ()
