"""dlgtut: how private training data leaks out of federated learning.

The library behind the book: models, real data, the honest federated participant, the attacks
(deep leakage from gradients and its successors), metrics and figures.
"""

__version__ = "0.1.0"
