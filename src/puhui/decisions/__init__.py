"""Decisions: products and pricing, the decision engine, five-category classification.

Pure logic over values: features, a score and the product catalog in, offers and reasons out.
"""
