"""Collection rules for the whole repository (tests/ has its own conftest for test state).

``dlgtut.federation`` needs the optional ``flower`` extra; without Flower its doctests are not
collected (its tests skip themselves with the reason).
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("flwr") else ["dlgtut/federation/*"]
