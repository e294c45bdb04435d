"""The differences the 1.3 series makes, declared: what the differential family may see between
Lightning 1.3.8 (with the compat series) and 1.3.8 with the rfc series too (`conformance/differential.py`
says what a change is).
"""
from conformance.differential import Change

CHANGES = ()
