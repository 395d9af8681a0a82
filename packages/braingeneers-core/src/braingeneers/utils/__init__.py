"""Compatibility layer for code written against the legacy ``braingeneers.utils`` (0.3).

The modules here keep old notebooks running and delegate to
:mod:`braingeneers.core`; importing one emits a :class:`DeprecationWarning`
naming the replacement. New code should use :mod:`braingeneers.core` directly.
"""
