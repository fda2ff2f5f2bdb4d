"""Conversation intelligence (Aircall's AI package): each call's transcription, sentiments,
topics and summary, opt-in per setting (``conversation_intelligence``), partitioned with the
calls: ``rows.py`` maps an API object to rows, ``asks.py`` decides which calls to ask and asks
them, ``assets.py`` builds the assets."""

from aircall_assets.insights.assets import build_insight_assets

__all__ = ["build_insight_assets"]
