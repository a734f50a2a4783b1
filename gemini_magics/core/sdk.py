"""The one module that reaches into google-genai's private parts. No IPython imports.

The Interactions API's exception classes live in ``google.genai._interactions`` (they are not
re-exported publicly, api-facts §8.2); everything else in the package asks this module for them, so
an SDK upgrade that moves them is fixed here. Imported lazily: loading the extension must not import
the SDK.
"""

from __future__ import annotations

from types import ModuleType


def errors() -> ModuleType:
    """``google.genai._interactions``: ``APIError``, ``APIStatusError``, ``APIConnectionError``, …"""
    from google.genai import _interactions

    return _interactions
